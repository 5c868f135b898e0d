// safetensors checkpoints: an atomic writer and a strict reader.
//
// The reader validates the whole header (with nlohmann/json, plus a parse callback that rejects
// duplicate keys and bounds nesting and array lengths) before it allocates any tensor, and every
// allocation is bounded by bytes actually present: the header by the file size and a 100 MB cap,
// each tensor by its data_offsets, which must lie inside the data section. Files are read
// sequentially straight into the tensors, so a checkpoint is never held in memory twice; the
// whole-file CRC-32 is computed on the way (the length prefix and header text, then each tensor's
// bytes as they arrive).
#include "normgrad/safetensors.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "io/file_ptr.hpp"
#include "normgrad/files.hpp"

namespace normgrad {

namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader does not swap bytes");

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;  // keeps the header's key order

constexpr std::string_view kMetadataKey = "__metadata__";
constexpr size_t kMaxJsonDepth = 4;         // a valid header needs 3: {name: {shape: [..]}}
constexpr size_t kMaxJsonArrayLength = 64;  // shapes and data_offsets are short
constexpr size_t kMaxQuoted = 80;           // longest JSON excerpt quoted in a message
// The text before the CRC's 8 hex digits, exactly as save_checkpoint writes it (json::dump adds no
// spaces and does not escape '.'), and what the digits are set to while the CRC is computed.
constexpr std::string_view kCrcFieldStart = "\"normgrad.crc32\":\"";
constexpr std::string_view kCrcPlaceholder = "00000000";
constexpr std::string_view kNormgradPrefix = "normgrad.";
static_assert(kCrcFieldStart.substr(1, kCrcFieldStart.size() - 4) ==
              std::string_view(kCheckpointChecksumKey));

[[noreturn]] void fail(const std::string& name, std::string_view what) {
    throw CheckpointError(fmt::format("{}: {}", name, what));
}

std::string shorten(std::string s, size_t limit = kMaxQuoted) {
    if (s.size() > limit) {
        s.resize(limit);
        // Do not leave half a UTF-8 sequence at the cut.
        while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
        if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0xC0) s.pop_back();
        s += "...";
    }
    return s;
}

// "string \"abc\"", "number 2.5", "array [1,2]": what a JSON value is, for messages.
std::string describe(const Json& j) {
    return fmt::format("{} {}", j.type_name(), shorten(j.dump()));
}

// The offset of the first byte that is not part of well-formed UTF-8, or npos.
size_t invalid_utf8_at(std::span<const uint8_t> s) {
    size_t i = 0;
    while (i < s.size()) {
        const uint8_t c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len = 0;
        uint32_t cp = 0;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1Fu;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0Fu;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07u;
        } else {
            return i;
        }
        if (s.size() - i < len) return i;
        for (size_t k = 1; k < len; ++k) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        const bool overlong =
            (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
        if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += len;
    }
    return std::string_view::npos;
}

// A JSON number that is a non-negative integer.
std::optional<uint64_t> as_unsigned(const Json& j) {
    if (j.is_number_unsigned()) return j.get<uint64_t>();
    if (j.is_number_integer() && j.get<int64_t>() >= 0)
        return static_cast<uint64_t>(j.get<int64_t>());
    return std::nullopt;
}

uint32_t crc_update(uint32_t crc, const void* data, size_t n) {
    // crc32_z(crc, NULL, 0) would return the initial value, so skip empty buffers.
    if (n == 0) return crc;
    return static_cast<uint32_t>(
        crc32_z(crc, static_cast<const Bytef*>(data), static_cast<z_size_t>(n)));
}

bool is_lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Offsets of every occurrence of kCrcFieldStart in a header's text.
std::vector<size_t> crc_field_offsets(std::string_view text) {
    std::vector<size_t> out;
    for (size_t p = text.find(kCrcFieldStart); p != std::string_view::npos;
         p = text.find(kCrcFieldStart, p + 1))
        out.push_back(p);
    return out;
}

bool is_safetensors_dtype(std::string_view d) {
    for (std::string_view known : {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
                                   "BF16", "I32", "U32", "F32", "F64", "I64", "U64"})
        if (d == known) return true;
    return false;
}

// One tensor as the header describes it.
struct Entry {
    std::string name;
    Shape shape;
    uint64_t begin = 0, end = 0;  // byte range in the data section
};

struct Header {
    std::vector<Entry> entries;  // sorted by data offset, covering the data section exactly
    std::map<std::string, std::string> metadata;
};

// Parse callback: rejects duplicate keys (nlohmann would keep the last one silently) and bounds
// nesting and array length, so a hostile header cannot build a huge document.
class JsonGuard {
  public:
    explicit JsonGuard(const std::string& name) : name_(name) {}

    bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
        using E = Json::parse_event_t;
        switch (event) {
            case E::object_start:
            case E::array_start:
                count_child();
                if (stack_.size() >= kMaxJsonDepth)
                    fail(name_, fmt::format("header JSON is nested more than {} levels deep (a "
                                            "safetensors header needs 3)",
                                            kMaxJsonDepth));
                stack_.emplace_back();
                stack_.back().is_array = event == E::array_start;
                break;
            case E::key:
                on_key(parsed.get_ref<const std::string&>());
                break;
            case E::value:
                count_child();
                break;
            case E::object_end:
            case E::array_end:
                stack_.pop_back();
                break;
        }
        return true;
    }

  private:
    struct Frame {
        bool is_array = false;
        size_t children = 0;
        std::unordered_set<std::string> keys;  // only for the two levels a valid header has
        std::string last_key;
    };

    void count_child() {
        if (stack_.empty()) return;
        Frame& f = stack_.back();
        if (f.is_array && ++f.children > kMaxJsonArrayLength)
            fail(name_, fmt::format("header JSON has an array of more than {} elements (expected "
                                    "short shape and data_offsets arrays)",
                                    kMaxJsonArrayLength));
    }

    void on_key(const std::string& key) {
        Frame& f = stack_.back();
        if (stack_.size() > 2) return;
        if (stack_.size() == 1) f.last_key = key;
        if (f.keys.insert(key).second) return;
        if (stack_.size() == 1) {
            if (key == kMetadataKey) fail(name_, "header has two \"__metadata__\" entries");
            fail(name_, fmt::format("duplicate tensor name '{}' in the header (each name must "
                                    "appear once)",
                                    key));
        }
        const std::string& parent = stack_.front().last_key;
        if (parent == kMetadataKey) fail(name_, fmt::format("duplicate metadata key '{}'", key));
        fail(name_, fmt::format("tensor '{}': key '{}' appears twice", parent, key));
    }

    const std::string& name_;
    std::vector<Frame> stack_;
};

// Shape from the header: an array of at most 4 non-negative integers.
Shape parse_shape(const Json& js, const std::string& tensor, const std::string& name) {
    if (!js.is_array())
        fail(name, fmt::format("tensor '{}': shape is {} (expected an array of non-negative "
                               "integers)",
                               tensor, describe(js)));
    if (js.size() > static_cast<size_t>(Shape::kMaxRank))
        fail(name, fmt::format("tensor '{}': shape {} has rank {} (expected rank 0 to {})", tensor,
                               shorten(js.dump()), js.size(), Shape::kMaxRank));
    std::vector<int64_t> dims;
    for (size_t i = 0; i < js.size(); ++i) {
        const Json& d = js[i];
        if (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0)
            fail(name, fmt::format("tensor '{}': shape entry {} is negative ({}) (expected a "
                                   "non-negative integer)",
                                   tensor, i, d.get<int64_t>()));
        const std::optional<uint64_t> u = as_unsigned(d);
        if (!u)
            fail(name, fmt::format("tensor '{}': shape entry {} is {} (expected a non-negative "
                                   "integer)",
                                   tensor, i, describe(d)));
        if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            fail(name, fmt::format("tensor '{}': shape entry {} ({}) overflows a 64-bit signed "
                                   "integer",
                                   tensor, i, *u));
        dims.push_back(static_cast<int64_t>(*u));
    }
    const bool has_zero = std::find(dims.begin(), dims.end(), 0) != dims.end();
    int64_t numel = 1;
    for (int64_t d : dims)
        if (!has_zero && __builtin_mul_overflow(numel, d, &numel))
            fail(name, fmt::format("tensor '{}': shape {} has more elements than a 64-bit integer "
                                   "can count",
                                   tensor, js.dump()));
    int64_t bytes = 0;
    if (__builtin_mul_overflow(numel, int64_t{sizeof(float)}, &bytes))
        fail(name, fmt::format("tensor '{}': shape {} needs more bytes than a 64-bit integer can "
                               "count",
                               tensor, js.dump()));
    return Shape(dims);
}

Entry parse_entry(const std::string& tensor, const Json& j, uint64_t data_size,
                  const std::string& name) {
    if (!j.is_object())
        fail(name, fmt::format("tensor '{}': entry is {} (expected an object with dtype, shape "
                               "and data_offsets)",
                               tensor, describe(j)));
    for (const auto& [key, value] : j.items())
        if (key != "dtype" && key != "shape" && key != "data_offsets")
            fail(name, fmt::format("tensor '{}': unexpected key '{}' (expected only dtype, shape "
                                   "and data_offsets)",
                                   tensor, shorten(key)));
    for (const char* key : {"dtype", "shape", "data_offsets"})
        if (!j.contains(key))
            fail(name, fmt::format("tensor '{}': no '{}' (expected dtype, shape and "
                                   "data_offsets)",
                                   tensor, key));

    const Json& jd = j["dtype"];
    if (!jd.is_string())
        fail(name, fmt::format("tensor '{}': dtype is {} (expected a string such as \"F32\")",
                               tensor, describe(jd)));
    const std::string& dtype = jd.get_ref<const std::string&>();
    if (dtype != "F32") {
        if (is_safetensors_dtype(dtype))
            fail(name, fmt::format("tensor '{}': dtype {} is not supported (expected F32: "
                                   "normgrad stores float32 only)",
                                   tensor, dtype));
        fail(name,
             fmt::format("tensor '{}': unknown dtype '{}' (expected F32)", tensor, shorten(dtype)));
    }

    Entry e{tensor, parse_shape(j["shape"], tensor, name)};
    const Json& jo = j["data_offsets"];
    std::optional<uint64_t> begin, end;
    if (jo.is_array() && jo.size() == 2) begin = as_unsigned(jo[0]), end = as_unsigned(jo[1]);
    if (!begin || !end)
        fail(name, fmt::format("tensor '{}': data_offsets is {} (expected two non-negative "
                               "integers [begin, end])",
                               tensor, describe(jo)));
    e.begin = *begin, e.end = *end;
    if (e.begin > e.end)
        fail(name, fmt::format("tensor '{}': data_offsets [{}, {}] begin after their end "
                               "(expected begin <= end)",
                               tensor, e.begin, e.end));
    if (e.end > data_size)
        fail(name, fmt::format("tensor '{}': data_offsets [{}, {}] run past the end of the data "
                               "section ({} bytes)",
                               tensor, e.begin, e.end, data_size));
    const auto needed = static_cast<uint64_t>(e.shape.numel()) * sizeof(float);
    if (e.end - e.begin != needed)
        fail(name, fmt::format("tensor '{}': data_offsets [{}, {}] hold {} bytes but shape {} of "
                               "F32 needs {} bytes (4 per element)",
                               tensor, e.begin, e.end, e.end - e.begin, e.shape.str(), needed));
    return e;
}

// Validates the JSON header of a file whose data section has `data_size` bytes.
Header parse_header(std::span<const uint8_t> text, uint64_t data_size, const std::string& name) {
    if (const size_t bad = invalid_utf8_at(text); bad != std::string_view::npos)
        fail(name, fmt::format("header is not valid UTF-8 (byte 0x{:02x} at header offset {}; "
                               "expected UTF-8 JSON)",
                               text[bad], bad));
    // nlohmann/json stops at a NUL byte as if the input ended there; JSON never contains one.
    if (const auto nul = std::find(text.begin(), text.end(), uint8_t{0}); nul != text.end())
        fail(name, fmt::format("header contains a NUL byte at header offset {} (expected UTF-8 "
                               "JSON)",
                               nul - text.begin()));
    if (text[0] != '{') {
        const char c = static_cast<char>(text[0]);
        fail(name, fmt::format("header is not a JSON object: it starts with {} (expected '{{')",
                               c > ' ' && c < 0x7f ? fmt::format("'{}'", c)
                                                   : fmt::format("byte 0x{:02x}", text[0])));
    }
    Json root;
    JsonGuard guard(name);
    try {
        root = Json::parse(text.begin(), text.end(), std::ref(guard));
    } catch (const Json::exception& e) {
        // parse_error for syntax, out_of_range for numbers beyond a double's range.
        std::string_view what = e.what();
        if (const size_t p = what.find("] "); p != std::string_view::npos)
            what.remove_prefix(p + 2);
        const auto* pe = dynamic_cast<const Json::parse_error*>(&e);
        fail(name, fmt::format("header is malformed JSON{}: {}",
                               pe ? fmt::format(" at byte {} of the header", pe->byte) : "",
                               shorten(std::string(what), 240)));
    }
    if (!root.is_object())  // unreachable after the '{' check, kept for safety
        fail(name, fmt::format("header is {} (expected a JSON object)", root.type_name()));

    Header h;
    for (const auto& [key, value] : root.items()) {
        if (key == kMetadataKey) {
            if (!value.is_object())
                fail(name, fmt::format("__metadata__ is {} (expected an object of strings)",
                                       describe(value)));
            for (const auto& [mk, mv] : value.items()) {
                if (!mv.is_string())
                    fail(name, fmt::format("metadata '{}' is {} (expected a string)", shorten(mk),
                                           describe(mv)));
                h.metadata.emplace(mk, mv.get<std::string>());
            }
            continue;
        }
        h.entries.push_back(parse_entry(key, value, data_size, name));
    }

    // The tensors must tile the data section: sorted by offset, each starts where the last ended.
    std::stable_sort(h.entries.begin(), h.entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t pos = 0;
    const Entry* prev = nullptr;
    for (const Entry& e : h.entries) {
        if (e.begin < pos)
            fail(name, fmt::format("tensors '{}' (bytes [{}, {})) and '{}' (bytes [{}, {})) "
                                   "overlap (expected disjoint data_offsets)",
                                   prev->name, prev->begin, prev->end, e.name, e.begin, e.end));
        if (e.begin > pos)
            fail(name, fmt::format("gap in the data section: bytes [{}, {}) before tensor '{}' "
                                   "belong to no tensor (expected the tensors to cover the data "
                                   "section exactly)",
                                   pos, e.begin, e.name));
        pos = e.end;
        prev = &e;
    }
    if (pos != data_size)
        fail(name, fmt::format("{} trailing bytes: the data section has {} bytes but the tensors "
                               "cover only {} (expected no bytes after the last tensor)",
                               data_size - pos, data_size, pos));
    return h;
}

// The CRC-32 a normgrad checkpoint records, and the running CRC of its length prefix and header
// text (with the recorded digits zeroed), to be continued over the data section.
struct FileCrc {
    std::string recorded;  // 8 lowercase hex digits
    uint32_t crc = 0;
};

// For a normgrad checkpoint (metadata with a "normgrad." key): checks that it records its CRC-32
// where expected and starts the CRC. For any other file (e.g. from PyTorch): nullopt, no checksum.
std::optional<FileCrc> start_file_crc(const Header& h, std::span<const uint8_t> prefix,
                                      std::span<const uint8_t> header, const std::string& name) {
    const auto first = h.metadata.lower_bound(std::string(kNormgradPrefix));
    if (first == h.metadata.end() || !first->first.starts_with(kNormgradPrefix))
        return std::nullopt;
    const auto it = h.metadata.find(kCheckpointChecksumKey);
    if (it == h.metadata.end()) {
        if (h.metadata.contains(kCheckpointOldChecksumKey))
            fail(name, fmt::format("written by an older normgrad: its metadata {} is a CRC-32 of "
                                   "the data section only, which cannot detect an edited header, "
                                   "so the file cannot be trusted (expected {}, a CRC-32 of the "
                                   "whole file: re-save the checkpoint with this version of "
                                   "normgrad)",
                                   kCheckpointOldChecksumKey, kCheckpointChecksumKey));
        fail(name,
             fmt::format("metadata has normgrad keys (e.g. '{}') but no {} (expected a "
                         "normgrad checkpoint to carry {}, the CRC-32 of the whole file)",
                         shorten(first->first), kCheckpointChecksumKey, kCheckpointChecksumKey));
    }
    const std::string& recorded = it->second;
    if (recorded.size() != kCrcPlaceholder.size() || !is_lower_hex(recorded))
        fail(name, fmt::format("metadata {} is \"{}\" (expected 8 lowercase hexadecimal digits, "
                               "the CRC-32 of the whole file)",
                               kCheckpointChecksumKey, shorten(recorded)));

    const std::string_view text(reinterpret_cast<const char*>(header.data()), header.size());
    const std::vector<size_t> at = crc_field_offsets(text);
    if (at.size() != 1)
        fail(name, fmt::format("the header holds the text {} {} times (expected it exactly once: "
                               "the checksum written as {}<8 hex digits>\", with no spaces or "
                               "escapes, as normgrad writes it)",
                               kCrcFieldStart, at.size(), kCrcFieldStart));
    if (text.substr(at[0] + kCrcFieldStart.size(), 9) != recorded + '"')
        fail(name, fmt::format("the header's text {} is not followed by the recorded value {} and "
                               "a quote (expected the checksum written as {}<8 hex digits>\", "
                               "with no escapes, as normgrad writes it)",
                               kCrcFieldStart, recorded, kCrcFieldStart));
    const size_t digits = at[0] + kCrcFieldStart.size();
    uint32_t crc = crc_update(0, prefix.data(), prefix.size());
    crc = crc_update(crc, header.data(), digits);
    crc = crc_update(crc, kCrcPlaceholder.data(), kCrcPlaceholder.size());
    crc = crc_update(crc, header.data() + digits + kCrcPlaceholder.size(),
                     header.size() - digits - kCrcPlaceholder.size());
    return FileCrc{recorded, crc};
}

// Reads the data section in order into new tensors. `read(dst, n)` supplies the next n bytes. With
// `file_crc`, continues the CRC over the data and compares it with the recorded one at the end.
Checkpoint read_tensors(Header h, const std::function<void(uint8_t*, size_t)>& read,
                        std::optional<FileCrc> file_crc, const std::string& name) {
    Checkpoint out;
    for (const Entry& e : h.entries) {
        Tensor t = Tensor::empty(e.shape);
        const auto n = static_cast<size_t>(e.end - e.begin);
        if (n > 0) {
            read(reinterpret_cast<uint8_t*>(t.data()), n);
            if (file_crc) file_crc->crc = crc_update(file_crc->crc, t.data(), n);
        }
        out.tensors.push_back({e.name, std::move(t)});
    }
    if (file_crc && fmt::format("{:08x}", file_crc->crc) != file_crc->recorded)
        fail(name, fmt::format("checksum mismatch: file is damaged or was edited (the file's "
                               "CRC-32 is {:08x}, the metadata records {})",
                               file_crc->crc, file_crc->recorded));
    out.metadata = std::move(h.metadata);
    return out;
}

// Checks the size and the 8-byte header length; returns the header length.
uint64_t check_prefix(const uint8_t* prefix, uint64_t file_size, const std::string& name) {
    if (file_size == 0)
        fail(name,
             "file is empty (expected a safetensors checkpoint: 8-byte header length, "
             "JSON header, data)");
    if (file_size < 8)
        fail(name, fmt::format("file has {} bytes, shorter than the 8-byte header length "
                               "(expected a safetensors checkpoint)",
                               file_size));
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | prefix[i];
    if (n == 0) fail(name, "header length is 0 (expected a JSON object of at least 2 bytes)");
    if (n > kSafetensorsMaxHeaderBytes)
        fail(name, fmt::format("header length {} is absurdly large (expected at most {} bytes)", n,
                               kSafetensorsMaxHeaderBytes));
    if (n > file_size - 8)
        fail(name, fmt::format("header length {} runs past the end of the file ({} bytes)", n,
                               file_size));
    return n;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
    std::unordered_set<std::string_view> seen;
    for (size_t i = 0; i < ckpt.tensors.size(); ++i) {
        const NamedTensor& nt = ckpt.tensors[i];
        if (nt.name.empty())
            fail(path, fmt::format("cannot save checkpoint: tensor {} has an empty name", i));
        if (nt.name == kMetadataKey)
            fail(path, "cannot save checkpoint: \"__metadata__\" is reserved, not a tensor name");
        if (!nt.tensor.defined())
            fail(path, fmt::format("cannot save checkpoint: tensor '{}' is undefined", nt.name));
        if (!seen.insert(nt.name).second)
            fail(path,
                 fmt::format("cannot save checkpoint: tensor name '{}' appears twice", nt.name));
    }

    Json header = Json::object();
    Json& meta = header[std::string(kMetadataKey)] = Json::object();
    for (const auto& [key, value] : ckpt.metadata)
        if (key != kCheckpointOldChecksumKey) meta[key] = value;  // stale: it covered the data only
    meta["format"] = "pt";
    meta[kCheckpointChecksumKey] =
        std::string(kCrcPlaceholder);  // the CRC is computed with this in place
    uint64_t offset = 0;
    for (const NamedTensor& nt : ckpt.tensors) {
        const uint64_t bytes = static_cast<uint64_t>(nt.tensor.numel()) * sizeof(float);
        header[nt.name] = Json{{"dtype", "F32"},
                               {"shape", nt.tensor.shape().dims()},
                               {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const Json::type_error&) {
        fail(path, "cannot save checkpoint: a tensor name or metadata string is not valid UTF-8");
    }
    text.append((8 - text.size() % 8) % 8, ' ');  // the data then starts 8-byte aligned
    if (text.size() > kSafetensorsMaxHeaderBytes)
        fail(path, fmt::format("cannot save checkpoint: header of {} bytes exceeds the limit of "
                               "{} bytes",
                               text.size(), kSafetensorsMaxHeaderBytes));

    // The CRC-32 of the whole file as it will be written, with the placeholder digits, which are
    // then replaced by it. The reader finds them by the exact text, which must occur once.
    const std::vector<size_t> crc_at = crc_field_offsets(text);
    if (crc_at.size() != 1)
        fail(path, fmt::format("cannot save checkpoint: a metadata key contains the text {} "
                               "(expected it only where normgrad records the checksum)",
                               kCrcFieldStart));
    uint8_t prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<uint8_t>(uint64_t{text.size()} >> (8 * i));
    uint32_t crc = crc_update(0, prefix, sizeof prefix);
    crc = crc_update(crc, text.data(), text.size());
    for (const NamedTensor& nt : ckpt.tensors)
        crc = crc_update(crc, nt.tensor.data(),
                         static_cast<size_t>(nt.tensor.numel()) * sizeof(float));
    const std::string digits = fmt::format("{:08x}", crc);
    text.replace(crc_at[0] + kCrcFieldStart.size(), digits.size(), digits);

    // Written whole to a temporary, then renamed over `path` (files.hpp): `path` always holds
    // either the old file or the complete new one.
    try {
        AtomicFile out(path);
        out.write(prefix, sizeof prefix);
        out.write(text);
        for (const NamedTensor& nt : ckpt.tensors)
            out.write(nt.tensor.data(), static_cast<size_t>(nt.tensor.numel()) * sizeof(float));
        out.commit();
    } catch (const FileError& e) {
        std::string_view what = e.what();  // "<path>: what went wrong"
        if (what.substr(0, path.size() + 2) == path + ": ") what.remove_prefix(path.size() + 2);
        fail(path, fmt::format("cannot save checkpoint: {}", what));
    }
}

Checkpoint parse_checkpoint(std::span<const uint8_t> bytes, const std::string& name_for_errors) {
    const std::string& name = name_for_errors;
    const uint64_t n = check_prefix(bytes.data(), bytes.size(), name);
    const std::span<const uint8_t> data = bytes.subspan(8 + n);
    Header h = parse_header(bytes.subspan(8, n), data.size(), name);
    std::optional<FileCrc> crc = start_file_crc(h, bytes.first(8), bytes.subspan(8, n), name);
    size_t pos = 0;
    return read_tensors(
        std::move(h),
        [&](uint8_t* dst, size_t k) {
            std::memcpy(dst, data.data() + pos, k);
            pos += k;
        },
        std::move(crc), name);
}

Checkpoint load_checkpoint(const std::string& path) {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (st.type() == fs::file_type::not_found)
        fail(path, "file not found (expected a safetensors checkpoint)");
    if (ec) fail(path, fmt::format("cannot access file: {}", ec.message()));
    if (fs::is_directory(st)) fail(path, "is a directory (expected a safetensors checkpoint file)");
    if (!fs::is_regular_file(st))
        fail(path, "is not a regular file (expected a safetensors checkpoint file)");

    io::FilePtr f(std::fopen(path.c_str(), "rb"));
    if (!f) fail(path, fmt::format("cannot open file: {}", std::strerror(errno)));
    struct stat sb {};
    if (::fstat(::fileno(f.get()), &sb) != 0)
        fail(path, fmt::format("cannot stat file: {}", std::strerror(errno)));
    const auto file_size = static_cast<uint64_t>(sb.st_size);

    auto read = [&](uint8_t* dst, size_t k) {
        const size_t got = std::fread(dst, 1, k, f.get());
        if (got == k) return;
        if (std::ferror(f.get())) fail(path, fmt::format("read error: {}", std::strerror(errno)));
        fail(path, "file shrank while it was being read (expected it to stay unchanged)");
    };
    uint8_t prefix[8] = {};
    if (file_size >= 8) read(prefix, sizeof prefix);
    const uint64_t n = check_prefix(prefix, file_size, path);
    std::vector<uint8_t> text(static_cast<size_t>(n));  // n <= file size and <= 100 MB
    read(text.data(), text.size());
    Header h = parse_header(text, file_size - 8 - n, path);
    std::optional<FileCrc> crc = start_file_crc(h, prefix, text, path);
    text = {};
    Checkpoint out = read_tensors(std::move(h), read, std::move(crc), path);
    if (std::fgetc(f.get()) != EOF)
        fail(path, "file grew while it was being read (expected it to stay unchanged)");
    return out;
}

void check_finite(const Checkpoint& ckpt, const std::string& name_for_errors) {
    for (const NamedTensor& nt : ckpt.tensors) {
        if (!nt.tensor.defined()) continue;
        const float* p = nt.tensor.data();
        const int64_t n = nt.tensor.numel();
        for (int64_t i = 0; i < n; ++i) {
            if (std::isfinite(p[i])) continue;
            const char* what = std::isnan(p[i]) ? "nan" : p[i] > 0 ? "inf" : "-inf";
            fail(name_for_errors,
                 fmt::format("tensor '{}' holds {} at element {} (expected finite numbers: a "
                             "model with NaN or infinity cannot be evaluated or trained)",
                             nt.name, what, i));
        }
    }
}

void copy_into(const Checkpoint& ckpt, const std::vector<NamedTensor>& destination,
               const std::string& name_for_errors, bool allow_extra) {
    auto list = [](const std::vector<std::string>& names) {
        constexpr size_t kShown = 20;
        std::string s;
        for (size_t i = 0; i < names.size() && i < kShown; ++i)
            s += (i ? ", " : "") + fmt::format("'{}'", names[i]);
        if (names.size() > kShown) s += fmt::format(" and {} more", names.size() - kShown);
        return s;
    };

    std::vector<std::string> problems;
    std::unordered_map<std::string_view, const Tensor*> found;
    for (const NamedTensor& nt : ckpt.tensors) {
        if (!found.emplace(nt.name, &nt.tensor).second)
            problems.push_back(fmt::format("the checkpoint holds tensor '{}' twice", nt.name));
        if (!nt.tensor.defined())
            problems.push_back(fmt::format("checkpoint tensor '{}' is undefined", nt.name));
    }
    std::vector<std::string> missing, unexpected;
    std::unordered_set<std::string_view> wanted;
    for (const NamedTensor& d : destination) {
        if (!wanted.insert(d.name).second)
            problems.push_back(fmt::format("the destination lists tensor '{}' twice", d.name));
        const auto it = found.find(d.name);
        if (it == found.end()) {
            missing.push_back(d.name);
        } else if (!d.tensor.defined()) {
            problems.push_back(fmt::format("destination tensor '{}' is undefined", d.name));
        } else if (it->second->defined() && it->second->shape() != d.tensor.shape()) {
            problems.push_back(
                fmt::format("tensor '{}' has shape {} in the checkpoint (expected "
                            "{})",
                            d.name, it->second->shape().str(), d.tensor.shape().str()));
        }
    }
    if (!allow_extra)
        for (const NamedTensor& nt : ckpt.tensors)
            if (!wanted.contains(nt.name)) unexpected.push_back(nt.name);
    if (!missing.empty())
        problems.insert(problems.begin(),
                        fmt::format("{} missing tensor(s), expected but not in the checkpoint: {}",
                                    missing.size(), list(missing)));
    if (!unexpected.empty())
        problems.push_back(
            fmt::format("{} unexpected tensor(s), in the checkpoint but not "
                        "expected: {}",
                        unexpected.size(), list(unexpected)));
    if (!problems.empty()) {
        std::string msg = "checkpoint does not match the destination";
        for (const std::string& p : problems) msg += "; " + p;
        fail(name_for_errors, msg);
    }
    for (const NamedTensor& d : destination) d.tensor.copy_from(*found.at(d.name));
}

}  // namespace normgrad
