// Fuzz entry for the checkpoint reader: parse_checkpoint on a safetensors file's content.
#include <fmt/format.h>

#include <zlib.h>

#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_entry.hpp"
#include "normgrad/safetensors.hpp"

namespace normgrad::fuzz {

namespace {

const std::string kCheckpointName = "fuzz-input.safetensors";

[[noreturn]] void broken_checkpoint(const std::string& what) {
    throw FuzzInvariantError("fuzz_checkpoint: " + what);
}

}  // namespace

Outcome fuzz_checkpoint(std::span<const uint8_t> input) {
    Checkpoint ckpt;
    try {
        ckpt = parse_checkpoint(input, kCheckpointName);
    } catch (const CheckpointError& e) {
        // Documented: the message starts with the name, then says what is wrong.
        const std::string msg = e.what();
        if (msg.rfind(kCheckpointName + ": ", 0) != 0 || msg.size() <= kCheckpointName.size() + 2)
            broken_checkpoint(fmt::format(
                "CheckpointError message does not start with the file name: '{}'", msg));
        return Outcome::rejected;
    }
    // Accepted: 8-byte length, header, then a data section the tensors cover exactly.
    if (input.size() < 8) broken_checkpoint("accepted a file shorter than 8 bytes");
    uint64_t header = 0;
    for (int i = 7; i >= 0; --i) header = header << 8 | input[static_cast<size_t>(i)];
    if (header == 0 || header > input.size() - 8)
        broken_checkpoint(
            fmt::format("accepted header length {} in a file of {} bytes", header, input.size()));
    uint64_t data_bytes = 0;
    std::set<std::string> names;
    for (const NamedTensor& nt : ckpt.tensors) {
        if (!nt.tensor.defined())
            broken_checkpoint(fmt::format("tensor '{}' is undefined", nt.name));
        if (nt.tensor.shape().rank() > Shape::kMaxRank)
            broken_checkpoint(
                fmt::format("tensor '{}' has rank {}", nt.name, nt.tensor.shape().rank()));
        if (!names.insert(nt.name).second)
            broken_checkpoint(fmt::format("tensor '{}' twice", nt.name));
        data_bytes += static_cast<uint64_t>(nt.tensor.numel()) * sizeof(float);
    }
    if (data_bytes != input.size() - 8 - header)
        broken_checkpoint(fmt::format("tensors hold {} bytes but the data section has {}",
                                      data_bytes, input.size() - 8 - header));

    // A normgrad checkpoint (any "normgrad." metadata key) is accepted only if the header holds
    // "normgrad.crc32":"<8 hex>" once and that is the CRC-32 of the file with the digits zeroed.
    bool normgrad_file = false;
    for (const auto& [key, value] : ckpt.metadata) normgrad_file |= key.starts_with("normgrad.");
    if (!normgrad_file) return Outcome::accepted;
    const auto it = ckpt.metadata.find(kCheckpointChecksumKey);
    if (it == ckpt.metadata.end())
        broken_checkpoint("accepted a normgrad checkpoint without normgrad.crc32");
    const std::string field = fmt::format("\"{}\":\"{}\"", kCheckpointChecksumKey, it->second);
    const std::string_view text(reinterpret_cast<const char*>(input.data()) + 8, header);
    const size_t at = text.find(field);
    if (at == std::string_view::npos || text.find(field, at + 1) != std::string_view::npos)
        broken_checkpoint(
            fmt::format("accepted a header that does not hold {} exactly once", field));
    std::vector<uint8_t> zeroed(input.begin(), input.end());
    const size_t digits = 8 + at + field.size() - 9;
    std::memset(zeroed.data() + digits, '0', 8);
    const auto crc = static_cast<uint32_t>(crc32_z(0, zeroed.data(), zeroed.size()));
    if (fmt::format("{:08x}", crc) != it->second)
        broken_checkpoint(
            fmt::format("accepted a normgrad checkpoint whose CRC-32 is {:08x} but whose "
                        "metadata records {}",
                        crc, it->second));
    return Outcome::accepted;
}

}  // namespace normgrad::fuzz
