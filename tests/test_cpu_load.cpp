// The other processes' CPU use, as read from /proc/stat (include/normgrad/cpu_load.hpp).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <thread>

#include "normgrad/cpu_load.hpp"

using normgrad::busy_ticks;

namespace {

// Two CPUs; the aggregate line's figures would give another sum if it were counted.
constexpr const char* kStat =
    "cpu  900 900 900 900 900 900 900 900 0 0\n"
    "cpu0 10 1 20 5000 7 3 2 4 50 0\n"
    "cpu1 100 0 200 6000 70 30 20 40 0 0\n"
    "intr 12345 0 0\n"
    "ctxt 999\n";

}  // namespace

TEST_CASE("busy_ticks sums user, nice, system, irq, softirq and steal of the CPUs asked for",
          "[cpu_load]") {
    // cpu0: 10 + 1 + 20 + 3 + 2 + 4 = 40 (idle 5000, iowait 7 and guest 50 left out).
    CHECK(busy_ticks(kStat, {0}) == 40u);
    CHECK(busy_ticks(kStat, {1}) == 390u);
    CHECK(busy_ticks(kStat, {0, 1}) == 430u);
    CHECK(busy_ticks(kStat, {}) == 0u);
}

TEST_CASE("busy_ticks refuses a missing CPU or an unreadable line", "[cpu_load]") {
    CHECK_FALSE(busy_ticks(kStat, {2}).has_value());
    CHECK_FALSE(busy_ticks(kStat, {0, 2}).has_value());
    CHECK_FALSE(busy_ticks("cpu0 10 1 20 x 7 3 2 4\n", {0}).has_value());
    CHECK_FALSE(busy_ticks("cpu0 10 1 20\n", {0}).has_value());
    // A line for another CPU may be anything.
    CHECK(busy_ticks("cpu0 1 1 1 1 1 1 1 1\ncpu1 garbage\n", {0}) == 6u);
}

TEST_CASE("CpuLoad reads this machine and leaves this process's own time out", "[cpu_load]") {
    normgrad::CpuLoad load;
    REQUIRE(load.cores() >= 1);
    // The others' use while this thread sleeps, then while it spins, 0.3 s each: counted as the
    // others', the spinning would add about one core. Other processes may be busy meanwhile, so
    // the check is on the difference, with half a core for their changes.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const double resting = load.others_busy_cores();
    const auto start = std::chrono::steady_clock::now();
    volatile double x = 0;
    while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(300)) x = x + 1;
    const double spinning = load.others_busy_cores();
    REQUIRE(std::isfinite(resting));
    REQUIRE(std::isfinite(spinning));
    CHECK(resting >= 0);
    CHECK(spinning >= 0);
    CHECK(spinning < resting + 0.5);
}
