#include "normgrad/system_memory.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace normgrad {

namespace {

std::optional<uint64_t> mem_available() {
    std::ifstream f("/proc/meminfo");
    for (std::string line; std::getline(f, line);) {
        if (line.rfind("MemAvailable:", 0) != 0) continue;
        std::istringstream in(line.substr(13));
        uint64_t kb = 0;
        if (in >> kb) return kb * 1024;
    }
    return std::nullopt;
}

// What a resource limit leaves of the memory this process already uses (its VmSize / VmData).
std::optional<uint64_t> limit_left(int resource, const char* status_key) {
    rlimit lim{};
    if (getrlimit(resource, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return std::nullopt;
    uint64_t used = 0;
    std::ifstream f("/proc/self/status");
    for (std::string line; std::getline(f, line);)
        if (line.rfind(status_key, 0) == 0) {
            std::istringstream in(line.substr(std::string(status_key).size()));
            uint64_t kb = 0;
            if (in >> kb) used = kb * 1024;
        }
    return lim.rlim_cur > used ? uint64_t(lim.rlim_cur) - used : 0;
}

}  // namespace

std::optional<uint64_t> available_memory_bytes() {
    std::optional<uint64_t> best = mem_available();
    for (auto left : {limit_left(RLIMIT_AS, "VmSize:"), limit_left(RLIMIT_DATA, "VmData:")})
        if (left) best = best ? std::min(*best, *left) : *left;
    return best;
}

std::string format_bytes(uint64_t bytes) {
    const double b = double(bytes);
    if (b >= 1e9) return fmt::format("{:.1f} GB", b / 1e9);
    if (b >= 1e6) return fmt::format("{:.0f} MB", b / 1e6);
    return fmt::format("{:.0f} kB", b / 1e3);
}

}  // namespace normgrad
