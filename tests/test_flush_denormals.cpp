// set_flush_denormals (parallel.hpp): denormal floats become zero on every thread of the team,
// and the default mode comes back when it is turned off.
#include <catch2/catch.hpp>

#include <omp.h>

#include <cstring>
#include <vector>

#include "normgrad/parallel.hpp"

namespace {

// A denormal product (1e-20 * 1e-20 = 1e-40 < 1.2e-38) on each thread of a team of n: 1 where
// the thread got 0.
std::vector<int> flushed_per_thread(int n) {
    std::vector<int> flushed(size_t(n), -1);
#pragma omp parallel num_threads(n)
    {
        volatile float a = 1e-20f, b = 1e-20f;
        const float p = a * b;
        flushed[size_t(omp_get_thread_num())] = p == 0.f ? 1 : 0;
    }
    return flushed;
}

}  // namespace

TEST_CASE("set_flush_denormals: every thread flushes, and turning it off restores", "[kernels]") {
    const int before = normgrad::num_threads();
    normgrad::set_num_threads(2);
    REQUIRE(normgrad::set_flush_denormals(true));
    CHECK(flushed_per_thread(2) == std::vector<int>{1, 1});
    // Denormal inputs read as zero too: 1e-40 (built from bits, not arithmetic) + 0 == 0.
    volatile float tiny = 0;
    {
        const unsigned bits = 0x000116C2u;  // about 1e-40
        float f;
        std::memcpy(&f, &bits, sizeof f);
        tiny = f;
    }
    CHECK(tiny * 1.0f == 0.f);
    normgrad::set_flush_denormals(false);
    CHECK(flushed_per_thread(2) == std::vector<int>{0, 0});
    CHECK(tiny * 1.0f != 0.f);
    normgrad::set_num_threads(before);
}
