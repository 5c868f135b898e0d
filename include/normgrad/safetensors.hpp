// Checkpoints in the safetensors format (the format of Hugging Face's `safetensors` package).
//
// File layout:
//   8 bytes         N, the header length, unsigned little-endian
//   N bytes         a UTF-8 JSON object, padded with spaces so that N is a multiple of 8:
//                     {"__metadata__": {"format": "pt", ...},
//                      "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
//   rest            the data section: raw little-endian float32 values; data_offsets are byte
//                   offsets [begin, end) into it. The tensors cover it exactly, with no gaps.
//
// normgrad stores float32 only (dtype "F32"), of rank 0 to 4, and records a CRC-32 of the data
// section in the metadata ("normgrad.checksum"), checked on load to catch damaged files.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "normgrad/module.hpp"

namespace normgrad {

// Thrown for any checkpoint that cannot be written, or is missing, unreadable or malformed. The
// message always starts with the file path, then says what is wrong and what was expected.
class CheckpointError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Largest header accepted (the limit of the reference implementation).
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;
// Metadata key of the CRC-32 (zlib's crc32) of the data section, as 8 lowercase hex digits.
inline constexpr const char* kCheckpointChecksumKey = "normgrad.checksum";

struct Checkpoint {
    std::vector<NamedTensor> tensors;             // float32 only (dtype "F32"), rank 0 to 4
    std::map<std::string, std::string> metadata;  // the "__metadata__" string map
};

// Writes `ckpt` to <path>.tmp-<pid>, fsyncs it and renames it over `path`, so `path` always holds
// either the old file or the complete new one. Tensors are stored in the given order; metadata
// gets "format" = "pt" and "normgrad.checksum" added. Names must be unique, non-empty, valid
// UTF-8 and not "__metadata__". On failure the temporary is removed and CheckpointError thrown.
void save_checkpoint(const std::string& path, const Checkpoint& ckpt);

// Reads and fully validates a checkpoint. Tensors come back in the order of their data (which is
// the order they were saved in). Memory use is bounded by the file's actual size.
Checkpoint load_checkpoint(const std::string& path);

// The same validation on a file's content in memory; errors name `name_for_errors`.
Checkpoint parse_checkpoint(std::span<const uint8_t> bytes, const std::string& name_for_errors);

// Copies the checkpoint's values into `destination` (e.g. Module::state()). Every destination
// name must be in the checkpoint with the same shape, and the checkpoint may hold no other names
// unless `allow_extra`. Nothing is copied unless everything matches; the error lists every
// missing and unexpected name and every shape mismatch (expected and found shapes).
void copy_into(const Checkpoint& ckpt, const std::vector<NamedTensor>& destination,
               const std::string& name_for_errors, bool allow_extra = false);

}  // namespace normgrad
