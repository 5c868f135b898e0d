// Fuzz entry for the IDX reader: parse_idx on raw or gzip content.
#include <fmt/format.h>

#include <string>

#include "fuzz_entry.hpp"
#include "normgrad/idx.hpp"

namespace normgrad::fuzz {

namespace {

const std::string kIdxName = "fuzz-input.idx";

[[noreturn]] void broken_idx(const std::string& what) {
    throw FuzzInvariantError("fuzz_idx: " + what);
}

}  // namespace

Outcome fuzz_idx(std::span<const uint8_t> input) {
    IdxArray a;
    try {
        a = parse_idx(input, kIdxName);
    } catch (const DataError& e) {
        // Documented: the message starts with the name, then says what is wrong.
        const std::string msg = e.what();
        if (msg.rfind(kIdxName + ": ", 0) != 0 || msg.size() <= kIdxName.size() + 2)
            broken_idx(
                fmt::format("DataError message does not start with the file name: '{}'", msg));
        return Outcome::rejected;
    }
    if (a.dims.empty() || a.dims.size() > 4)
        broken_idx(fmt::format("accepted an array of {} dimensions", a.dims.size()));
    int64_t count = 1;
    for (int64_t d : a.dims) {
        if (d < 1 || d > int64_t{0xFFFFFFFF}) broken_idx(fmt::format("accepted dimension {}", d));
        if (__builtin_mul_overflow(count, d, &count) || count > kIdxMaxDataBytes)
            broken_idx("accepted dimensions whose product exceeds the data limit");
    }
    if (static_cast<uint64_t>(count) != a.bytes.size())
        broken_idx(
            fmt::format("dimensions declare {} bytes but {} were returned", count, a.bytes.size()));
    const bool gzipped = input.size() >= 2 && input[0] == 0x1f && input[1] == 0x8b;
    if (!gzipped && input.size() != 4 + 4 * a.dims.size() + a.bytes.size())
        broken_idx(
            fmt::format("accepted a raw file of {} bytes for {} dimensions and {} data bytes",
                        input.size(), a.dims.size(), a.bytes.size()));
    return Outcome::accepted;
}

}  // namespace normgrad::fuzz
