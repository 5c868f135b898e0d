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
// normgrad stores float32 only (dtype "F32"), of rank 0 to 4. Its metadata holds
// "normgrad.crc32": the CRC-32 (zlib's crc32) of the whole file as 8 lowercase hex digits, computed
// over the 8-byte length, the header text exactly as written but with those 8 digits replaced by
// "00000000", and the data section. The header therefore contains the exact text
// "normgrad.crc32":"<8 hex digits>" once; the writer computes the CRC with the placeholder in place
// and then patches the digits in (same length). The reader checks it, so a damaged file and a
// header edited into other valid JSON (swapped data_offsets, a changed shape or metadata value) are
// refused.
//
// A file whose metadata has any "normgrad." key is a normgrad checkpoint and must carry
// normgrad.crc32; one written by an older normgrad, whose "normgrad.checksum" covered only the data
// section, is refused. A file with no normgrad metadata (e.g. one written by PyTorch's safetensors
// package) is loaded with the same format checks but no checksum.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "normgrad/named_tensor.hpp"

namespace normgrad {

// Thrown for any checkpoint that cannot be written, or is missing, unreadable or malformed. The
// message always starts with the file path, then says what is wrong and what was expected.
class CheckpointError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Largest header accepted (the limit of the reference implementation).
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;
// Metadata key of the CRC-32 of the whole file (see the top of this file), 8 lowercase hex digits.
inline constexpr const char* kCheckpointChecksumKey = "normgrad.crc32";
// Metadata key of older normgrad versions: a CRC-32 of the data section only. Files that carry it
// instead of kCheckpointChecksumKey are refused; save_checkpoint drops it from the metadata.
inline constexpr const char* kCheckpointOldChecksumKey = "normgrad.checksum";

struct Checkpoint {
    std::vector<NamedTensor> tensors;             // float32 only (dtype "F32"), rank 0 to 4
    std::map<std::string, std::string> metadata;  // the "__metadata__" string map
};

// Writes `ckpt` through an AtomicFile (files.hpp: a temporary <path>.normgrad-tmp-<pid>, synced and
// renamed over `path`, a symbolic link followed), so `path` always holds either the old file or
// the complete new one. Tensors are stored in the given order; metadata
// gets "format" = "pt" and "normgrad.crc32" added (any "normgrad.checksum" is dropped). Names must
// be unique, non-empty, valid UTF-8 and not "__metadata__", and no metadata key may contain the
// text "normgrad.crc32":" (it would make the checksum's place ambiguous). On failure the temporary
// is removed and CheckpointError thrown.
void save_checkpoint(const std::string& path, const Checkpoint& ckpt);

// Reads and fully validates a checkpoint, including the whole-file CRC-32 of a normgrad checkpoint.
// Tensors come back in the order of their data (which is the order they were saved in). Memory use
// is bounded by the file's actual size; the file is never held in memory twice.
Checkpoint load_checkpoint(const std::string& path);

// The same validation on a file's content in memory; errors name `name_for_errors`.
Checkpoint parse_checkpoint(std::span<const uint8_t> bytes, const std::string& name_for_errors);

// Throws CheckpointError "<name>: tensor 'fc1.weight' holds nan at element 17 (...)" for the first
// tensor (in order) holding a NaN or an infinity ("inf", "-inf"); the element is the index into the
// tensor's row-major values. A checkpoint can store such values; a model built from them cannot be
// evaluated or trained, so model loading calls this.
void check_finite(const Checkpoint& ckpt, const std::string& name_for_errors);

// Copies the checkpoint's values into `destination` (e.g. Module::state()). Every destination
// name must be in the checkpoint with the same shape, and the checkpoint may hold no other names
// unless `allow_extra`. Nothing is copied unless everything matches; the error lists every
// missing and unexpected name and every shape mismatch (expected and found shapes).
void copy_into(const Checkpoint& ckpt, const std::vector<NamedTensor>& destination,
               const std::string& name_for_errors, bool allow_extra = false);

}  // namespace normgrad
