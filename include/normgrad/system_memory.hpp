// How much memory this process may still use: for refusing work that cannot fit before it starts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace normgrad {

struct AvailableMemory {
    uint64_t bytes;
    std::string source;  // "MemAvailable in /proc/meminfo", "room left under RLIMIT_AS", ...
};

// The smaller of the system's available memory (MemAvailable in /proc/meminfo) and the room
// this process's address-space and data limits (RLIMIT_AS, RLIMIT_DATA) leave above what it
// uses now; nullopt when none of them is known.
std::optional<AvailableMemory> available_memory();

// "512 MB", "3.2 GB": a byte count for messages.
std::string format_bytes(uint64_t bytes);

}  // namespace normgrad
