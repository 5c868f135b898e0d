// How much of this process's CPUs other processes are using: for running on fewer threads when
// the cores are busy (a spinning OpenMP thread that shares its core with another process loses
// far more than one thread does; docs/results/wait-policy-amd-epyc.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace normgrad {

// The busy ticks (user, nice, system, irq, softirq, steal; guest time is already in user) of the
// "cpuN" lines of a /proc/stat text for the CPUs listed; nullopt when one is missing or a line
// cannot be read. The aggregate "cpu " line is ignored.
std::optional<uint64_t> busy_ticks(std::string_view proc_stat, const std::vector<int>& cpus);

// Samples /proc/stat and this process's own CPU time; each others_busy_cores() says how many of
// the CPUs this process may run on (sched_getaffinity) the other processes kept busy, on average,
// since the previous call (or since construction). NaN when /proc/stat cannot be read.
class CpuLoad {
  public:
    CpuLoad();
    double others_busy_cores();
    int cores() const { return int(cpus_.size()); }

  private:
    struct Sample {
        std::optional<uint64_t> ticks;
        double own_seconds;
        std::chrono::steady_clock::time_point wall;
    };
    Sample sample() const;

    std::vector<int> cpus_;
    double ticks_per_second_;
    Sample last_;
};

}  // namespace normgrad
