#include "normgrad/system_memory.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <string_view>
#include <tuple>

namespace normgrad {

namespace {

// A "<key>: <n> kB" line of a /proc file, in bytes.
std::optional<uint64_t> proc_kb(const char* file, std::string_view key) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() <= key.size() || line.compare(0, key.size(), key) != 0 ||
            line[key.size()] != ':')
            continue;
        unsigned long long kb = 0;
        if (std::sscanf(line.c_str() + key.size() + 1, "%llu", &kb) != 1) return std::nullopt;
        return kb > UINT64_MAX / 1024 ? UINT64_MAX : uint64_t{kb} * 1024;
    }
    return std::nullopt;
}

}  // namespace

std::optional<AvailableMemory> available_memory() {
    std::optional<AvailableMemory> best;
    auto consider = [&](std::optional<uint64_t> bytes, std::string_view source) {
        if (bytes && (!best || *bytes < best->bytes))
            best = AvailableMemory{*bytes, std::string(source)};
    };
    consider(proc_kb("/proc/meminfo", "MemAvailable"), "MemAvailable in /proc/meminfo");
    for (auto [resource, usage, source] :
         {std::tuple{RLIMIT_AS, "VmSize", std::string_view("room left under RLIMIT_AS")},
          std::tuple{RLIMIT_DATA, "VmData", std::string_view("room left under RLIMIT_DATA")}}) {
        rlimit lim{};
        if (::getrlimit(resource, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) continue;
        const uint64_t used = proc_kb("/proc/self/status", usage).value_or(0);
        const auto limit = static_cast<uint64_t>(lim.rlim_cur);
        consider(limit > used ? limit - used : 0, source);
    }
    return best;
}

std::string format_bytes(uint64_t bytes) {
    const double b = double(bytes);
    if (b >= 1e9) return fmt::format("{:.1f} GB", b / 1e9);
    if (b >= 1e6) return fmt::format("{:.0f} MB", b / 1e6);
    return fmt::format("{:.0f} kB", b / 1e3);
}

}  // namespace normgrad
