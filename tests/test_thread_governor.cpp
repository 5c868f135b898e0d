// Fewer threads while other processes keep the cores busy (train/thread_governor.hpp), the
// command line's choice of wait policy (examples/cli/wait_policy.hpp), and the two together in
// a run of the program beside busy processes.
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <deque>
#include <vector>

#include "cli_helpers.hpp"
#include "normgrad/train/thread_governor.hpp"
#include "wait_policy.hpp"

using Catch::Matchers::Contains;
using normgrad::testing::TinyData;
using normgrad::train::ThreadGovernor;
using normgrad::train::threads_for_load;
using namespace std::chrono_literals;

TEST_CASE("threads_for_load leaves a thread for each core the others keep busy", "[governor]") {
    // Two threads asked on two cores.
    CHECK(threads_for_load(2, 2, 0.0) == 2);
    CHECK(threads_for_load(2, 2, 0.25) == 2);  // a quarter of a core is slack
    CHECK(threads_for_load(2, 2, 0.3) == 1);
    CHECK(threads_for_load(2, 2, 1.0) == 1);
    CHECK(threads_for_load(2, 2, 2.0) == 1);  // never fewer than one
    // Never more than asked, nor than the cores left.
    CHECK(threads_for_load(4, 2, 0.0) == 2);
    CHECK(threads_for_load(4, 8, 1.3) == 4);
    CHECK(threads_for_load(4, 4, 1.3) == 2);
    CHECK(threads_for_load(4, 4, 1.2) == 3);
    CHECK(threads_for_load(1, 4, 3.5) == 1);
    // An unknown load changes nothing.
    CHECK(threads_for_load(3, 2, std::nan("")) == 3);
}

namespace {

// A governor reading a list of loads, one per sample, on a clock the test moves.
struct Scripted {
    std::deque<double> loads;
    int samples = 0;
    ThreadGovernor::Clock::time_point t = ThreadGovernor::Clock::now();

    ThreadGovernor make(int requested, int cores) {
        return ThreadGovernor(requested, cores, [this] {
            ++samples;
            REQUIRE(!loads.empty());
            const double l = loads.front();
            loads.pop_front();
            return l;
        });
    }
    // The threads after `dt` more, between two steps.
    int after(ThreadGovernor& g, ThreadGovernor::Clock::duration dt) {
        t += dt;
        return g.between_steps(t);
    }
};

}  // namespace

TEST_CASE("ThreadGovernor samples at most once a period, the first one sooner", "[governor]") {
    Scripted s;
    ThreadGovernor g = s.make(2, 2);
    CHECK(g.threads() == 2);
    s.loads = {0.0, 0.0, 0.0};
    CHECK(s.after(g, 50ms) == 2);
    CHECK(s.samples == 0);
    CHECK(s.after(g, 60ms) == 2);  // 110 ms: the first sample
    CHECK(s.samples == 1);
    CHECK(s.after(g, 200ms) == 2);  // 200 ms since: not yet a period
    CHECK(s.samples == 1);
    CHECK(s.after(g, 60ms) == 2);
    CHECK(s.samples == 2);
}

TEST_CASE("ThreadGovernor drops threads at once and takes them back after two free samples",
          "[governor]") {
    Scripted s;
    ThreadGovernor g = s.make(2, 2);
    s.loads = {1.0, 0.0, 1.0, 0.0, 0.0, 0.1};
    CHECK(s.after(g, 300ms) == 1);  // busy: down at the first sample
    CHECK(s.after(g, 300ms) == 1);  // free once: not yet
    CHECK(s.after(g, 300ms) == 1);  // busy again: the count starts over
    CHECK(s.after(g, 300ms) == 1);
    CHECK(s.after(g, 300ms) == 2);  // free twice in a row
    CHECK(s.after(g, 300ms) == 2);
    CHECK(s.loads.empty());
}

TEST_CASE("ThreadGovernor rises to what the smaller of the two samples allows", "[governor]") {
    Scripted s;
    ThreadGovernor g = s.make(4, 4);
    s.loads = {3.0, 0.0, 1.0, std::nan(""), 0.0, 0.0};
    CHECK(s.after(g, 300ms) == 1);
    CHECK(s.after(g, 300ms) == 1);  // room for 4, once
    CHECK(s.after(g, 300ms) == 3);  // room for 3: up to 3
    CHECK(s.after(g, 300ms) == 3);  // unknown: as asked (4), once
    CHECK(s.after(g, 300ms) == 4);
    CHECK(s.after(g, 300ms) == 4);
}

TEST_CASE("ThreadGovernor starts with no more threads than cores", "[governor]") {
    Scripted s;
    CHECK(s.make(4, 2).threads() == 2);
    CHECK(s.make(2, 8).threads() == 2);
    CHECK_THROWS(s.make(0, 2));
}

TEST_CASE("the training commands keep libgomp's wait policy unless told not to adapt",
          "[governor]") {
    const auto adapts = [](std::vector<const char*> argv) {
        argv.insert(argv.begin(), "normgrad");
        return normgrad::cli::adapts_threads(int(argv.size()), argv.data());
    };
    CHECK(adapts({"train", "--threads", "2"}));
    CHECK(adapts({"compare"}));
    CHECK(adapts({"gradnorms"}));
    CHECK(adapts({"train", "--adapt-threads", "on"}));
    CHECK_FALSE(adapts({"train", "--threads", "2", "--adapt-threads", "off"}));
    CHECK_FALSE(adapts({"train", "--adapt-threads=off"}));
    CHECK_FALSE(adapts({"eval", "--threads", "2"}));
    CHECK_FALSE(adapts({"study", "depth"}));
    CHECK_FALSE(adapts({}));
}

namespace {

// Processes spinning on the given CPUs until this object goes.
class Spinners {
  public:
    explicit Spinners(const cpu_set_t& cpus, int count) {
        for (int i = 0; i < count; ++i) {
            const pid_t pid = fork();
            REQUIRE(pid >= 0);
            if (pid == 0) {
                sched_setaffinity(0, sizeof cpus, &cpus);
                volatile unsigned long x = 0;
                for (;;) x = x + 1;
            }
            pids_.push_back(pid);
        }
    }
    ~Spinners() {
        for (const pid_t pid : pids_) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }
    Spinners(const Spinners&) = delete;
    Spinners& operator=(const Spinners&) = delete;

  private:
    std::vector<pid_t> pids_;
};

}  // namespace

TEST_CASE("cli: train --threads 2 beside busy processes goes down to one thread and says so",
          "[governor][cli]") {
    // Two of this process's CPUs, for the program (taskset) and for two spinning processes:
    // whatever the machine's size, the run then sees both its cores busy.
    cpu_set_t mine, two;
    REQUIRE(sched_getaffinity(0, sizeof mine, &mine) == 0);
    CPU_ZERO(&two);
    std::vector<int> picked;
    for (int c = 0; c < CPU_SETSIZE && picked.size() < 2; ++c)
        if (CPU_ISSET(c, &mine)) {
            CPU_SET(c, &two);
            picked.push_back(c);
        }
    if (picked.size() < 2) {
        WARN("one CPU only: nothing to adapt");
        return;
    }
    TinyData d(2048);
    const std::string run_args =
        "--threads 2 --batch 16 --max-steps 600 --grad-stats off "
        "--no-progress" +
        d.data();
    const std::string taskset =
        "taskset -c " + std::to_string(picked[0]) + "," + std::to_string(picked[1]) + " ";
    const auto train = [&](const std::string& extra) {
        return normgrad::testing::run_in_shell(taskset + std::string(NORMGRAD_BINARY_DIR) +
                                               "/normgrad train " + run_args + extra);
    };
    const Spinners busy(two, 2);
    const auto adapted = train("");
    INFO(adapted.output);
    REQUIRE(adapted.status == 0);
    CHECK_THAT(adapted.output, Contains("training on 1 of the 2 threads"));
    const auto fixed = train(" --adapt-threads off");
    INFO(fixed.output);
    REQUIRE(fixed.status == 0);
    CHECK_THAT(fixed.output, !Contains("threads while they do"));
}

TEST_CASE("cli: train --threads 2 on one core runs one thread and says so", "[governor][cli]") {
    cpu_set_t mine;
    REQUIRE(sched_getaffinity(0, sizeof mine, &mine) == 0);
    int first = 0;
    while (!CPU_ISSET(first, &mine)) ++first;
    TinyData d;
    const auto r = normgrad::testing::run_in_shell(
        "taskset -c " + std::to_string(first) + " " + std::string(NORMGRAD_BINARY_DIR) +
        "/normgrad train --threads 2 --max-steps 2 --no-progress" + d.data());
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK_THAT(r.output, Contains("this process may run on 1 core: training on 1 thread, not 2"));
}

TEST_CASE("cli: --adapt-threads needs --threads above 1", "[governor][cli]") {
    TinyData d;
    const auto r = normgrad::testing::run("train --adapt-threads on --max-steps 1" + d.data());
    CHECK(r.status == 2);
    CHECK_THAT(r.output, Contains("--adapt-threads applies only with --threads above 1"));
}
