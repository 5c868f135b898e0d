#include "normgrad/cpu_load.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

namespace normgrad {

std::optional<uint64_t> busy_ticks(std::string_view proc_stat, const std::vector<int>& cpus) {
    std::vector<bool> seen(cpus.size(), false);
    uint64_t total = 0;
    while (!proc_stat.empty()) {
        const size_t end = std::min(proc_stat.find('\n'), proc_stat.size());
        std::string_view line = proc_stat.substr(0, end);
        proc_stat.remove_prefix(std::min(end + 1, proc_stat.size()));
        // "cpuN user nice system idle iowait irq softirq steal [guest guest_nice]"
        if (line.size() < 4 || line.substr(0, 3) != "cpu" || line[3] < '0' || line[3] > '9')
            continue;
        const char* p = line.data() + 3;
        const char* const last = line.data() + line.size();
        int cpu = -1;
        auto r = std::from_chars(p, last, cpu);
        if (r.ec != std::errc()) return std::nullopt;
        p = r.ptr;
        const auto wanted = std::find(cpus.begin(), cpus.end(), cpu);
        if (wanted == cpus.end()) continue;
        uint64_t field[8] = {};
        for (uint64_t& f : field) {
            while (p < last && *p == ' ') ++p;
            r = std::from_chars(p, last, f);
            if (r.ec != std::errc()) return std::nullopt;
            p = r.ptr;
        }
        // idle (3) and iowait (4) are not busy.
        total += field[0] + field[1] + field[2] + field[5] + field[6] + field[7];
        seen[size_t(wanted - cpus.begin())] = true;
    }
    if (std::find(seen.begin(), seen.end(), false) != seen.end()) return std::nullopt;
    return total;
}

namespace {

std::vector<int> allowed_cpus() {
    std::vector<int> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &set)) cpus.push_back(c);
    return cpus;
}

double own_cpu_seconds() {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

}  // namespace

CpuLoad::CpuLoad()
    : cpus_(allowed_cpus()), ticks_per_second_(double(::sysconf(_SC_CLK_TCK))), last_(sample()) {}

CpuLoad::Sample CpuLoad::sample() const {
    Sample s{std::nullopt, own_cpu_seconds(), std::chrono::steady_clock::now()};
    std::ifstream in("/proc/stat");
    if (in && !cpus_.empty() && ticks_per_second_ > 0) {
        std::ostringstream text;
        text << in.rdbuf();
        s.ticks = busy_ticks(text.str(), cpus_);
    }
    return s;
}

double CpuLoad::others_busy_cores() {
    const Sample now = sample();
    const Sample before = last_;
    last_ = now;
    const double wall = std::chrono::duration<double>(now.wall - before.wall).count();
    if (!now.ticks || !before.ticks || *now.ticks < *before.ticks || wall <= 0)
        return std::numeric_limits<double>::quiet_NaN();
    const double busy = double(*now.ticks - *before.ticks) / ticks_per_second_;
    // Our own time counts as busy in /proc/stat: take it out. Ticks are coarse (10 ms), so the
    // difference can come out slightly negative.
    return std::max(0.0, (busy - (now.own_seconds - before.own_seconds)) / wall);
}

}  // namespace normgrad
