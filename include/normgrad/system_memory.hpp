// How much memory this process may still use: for refusing work that cannot fit before it starts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace normgrad {

// The smaller of the system's available memory (MemAvailable in /proc/meminfo) and what this
// process's address-space and data limits (RLIMIT_AS, RLIMIT_DATA) leave; nullopt when unknown.
std::optional<uint64_t> available_memory_bytes();

// "512 MB", "3.2 GB": a byte count for messages.
std::string format_bytes(uint64_t bytes);

}  // namespace normgrad
