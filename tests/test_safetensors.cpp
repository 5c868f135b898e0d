// safetensors checkpoints: round trips, the exact bytes written, hand-written damaged files (each
// with the error it must give), random corruption, copy_into, and saves that fail part-way.
#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>
#include <zlib.h>

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "normgrad/safetensors.hpp"

namespace fs = std::filesystem;
using normgrad::Checkpoint;
using normgrad::CheckpointError;
using normgrad::NamedTensor;
using normgrad::Shape;
using normgrad::Tensor;
using Bytes = std::vector<uint8_t>;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        std::random_device rd;
        path = fs::temp_directory_path() / fmt::format("normgrad-ckpt-{:08x}{:08x}", rd(), rd());
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
    std::vector<std::string> entries() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename());
        std::sort(out.begin(), out.end());
        return out;
    }
};

void write_file(const std::string& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

Bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Bytes le64(uint64_t n) {
    Bytes out(8);
    for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
    return out;
}

Bytes concat(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// A file with this exact header text (no padding added) followed by `data`.
Bytes st_file(const std::string& header, const Bytes& data) {
    Bytes out = le64(header.size());
    out.insert(out.end(), header.begin(), header.end());
    return concat(out, data);
}

Bytes f32_bytes(const std::vector<float>& values) {
    Bytes out(values.size() * 4);
    if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
    return out;
}

uint32_t crc_of(const Bytes& data) {
    return static_cast<uint32_t>(crc32(0, data.data(), static_cast<uInt>(data.size())));
}

const std::string kCrcField = "\"normgrad.crc32\":\"";

// The offset of the 8 CRC digits after the first "normgrad.crc32":" in a file's bytes.
size_t crc_digits_at(const Bytes& file) {
    const std::string s(file.begin(), file.end());
    const size_t at = s.find(kCrcField);
    REQUIRE(at != std::string::npos);
    return at + kCrcField.size();
}

// Recomputes a file's normgrad.crc32 the way the format defines it (the CRC-32 of the whole file
// with the 8 digits set to "00000000") and writes it in: what an editor who knew the scheme would
// do. A file edited and then resealed must load, so a test can show that only the CRC caught it.
Bytes reseal(Bytes file) {
    const size_t at = crc_digits_at(file);
    std::memset(file.data() + at, '0', 8);
    const std::string digits = fmt::format("{:08x}", crc_of(file));
    std::memcpy(file.data() + at, digits.data(), 8);
    return file;
}

// A hand-written file (exact header text, holding "normgrad.crc32":"00000000") with its CRC.
Bytes sealed_file(const std::string& header, const Bytes& data) {
    return reseal(st_file(header, data));
}

// The error a file whose recorded CRC does not match its content must give.
std::string mismatch_of(const std::string& name, const Bytes& file) {
    Bytes zeroed = file;
    const size_t at = crc_digits_at(file);
    const std::string recorded(file.begin() + static_cast<std::ptrdiff_t>(at),
                               file.begin() + static_cast<std::ptrdiff_t>(at + 8));
    std::memset(zeroed.data() + at, '0', 8);
    return fmt::format(
        "{}: checksum mismatch: file is damaged or was edited (the file's CRC-32 is "
        "{:08x}, the metadata records {})",
        name, crc_of(zeroed), recorded);
}

// Swaps the only occurrences of `x` and `y` (x first) in a file's bytes; the length is kept.
Bytes swapped(const Bytes& file, const std::string& x, const std::string& y) {
    const std::string s(file.begin(), file.end());
    const size_t i = s.find(x), j = s.find(y);
    REQUIRE(i != std::string::npos);
    REQUIRE(j != std::string::npos);
    REQUIRE(i + x.size() <= j);
    REQUIRE(s.find(x, i + 1) == std::string::npos);
    REQUIRE(s.find(y, j + 1) == std::string::npos);
    const std::string out =
        s.substr(0, i) + y + s.substr(i + x.size(), j - i - x.size()) + x + s.substr(j + y.size());
    return Bytes(out.begin(), out.end());
}

const Tensor& tensor_named(const Checkpoint& c, const std::string& name) {
    for (const NamedTensor& nt : c.tensors)
        if (nt.name == name) return nt.tensor;
    FAIL("no tensor named " << name);
    throw std::logic_error("unreachable");
}

// Replaces the only occurrence of `from` in a file's bytes by `to` (of the same length).
Bytes edited(const Bytes& file, const std::string& from, const std::string& to) {
    REQUIRE(from.size() == to.size());
    std::string s(file.begin(), file.end());
    const size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    REQUIRE(s.find(from, at + 1) == std::string::npos);
    s.replace(at, from.size(), to);
    return Bytes(s.begin(), s.end());
}

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const CheckpointError& e) {
        return e.what();
    }
    return "<no CheckpointError thrown>";
}

std::vector<uint32_t> bits_of(const Tensor& t) {
    std::vector<uint32_t> out;
    for (float v : t.to_vector()) out.push_back(std::bit_cast<uint32_t>(v));
    return out;
}

float from_bits(uint32_t b) {
    return std::bit_cast<float>(b);
}

// The same values on both sides of tests/reference/check_safetensors_torch.py --reference.
float reference_value(int tensor_index, int64_t i) {
    return static_cast<float>((i * 37 + tensor_index * 11) % 101 - 50) / 8.f;
}

Tensor reference_tensor(int tensor_index, const Shape& shape) {
    Tensor t = Tensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = reference_value(tensor_index, i);
    return t;
}

Checkpoint sample_checkpoint() {
    Checkpoint c;
    c.tensors.push_back({"fc.weight", reference_tensor(0, Shape{3, 4})});
    c.tensors.push_back({"fc.bias", reference_tensor(1, Shape{3})});
    c.tensors.push_back({"scalar", Tensor::scalar(3.5f)});
    c.tensors.push_back({"conv.weight", reference_tensor(3, Shape{2, 1, 3, 3})});
    c.tensors.push_back({"empty", Tensor::empty(Shape{0, 3})});
    const std::vector<float> special = {from_bits(0x00000000), from_bits(0x80000000),
                                        from_bits(0x7f800000), from_bits(0x00000001),
                                        from_bits(0x7fc00001)};
    c.tensors.push_back({"special", Tensor::from(Shape{5}, special)});
    c.metadata = {{"normgrad.test", "reference-v1"}, {"note", "h\u00e9llo \u2713 \"quoted\""}};
    return c;
}

void check_same(const Checkpoint& loaded, const Checkpoint& saved) {
    REQUIRE(loaded.tensors.size() == saved.tensors.size());
    for (size_t i = 0; i < saved.tensors.size(); ++i) {
        INFO("tensor " << saved.tensors[i].name);
        CHECK(loaded.tensors[i].name == saved.tensors[i].name);
        CHECK(loaded.tensors[i].tensor.shape() == saved.tensors[i].tensor.shape());
        CHECK(bits_of(loaded.tensors[i].tensor) == bits_of(saved.tensors[i].tensor));
    }
    for (const auto& [k, v] : saved.metadata) {
        REQUIRE(loaded.metadata.count(k) == 1);
        CHECK(loaded.metadata.at(k) == v);
    }
}

}  // namespace

TEST_CASE("checkpoint: round trip is bit-exact and keeps order and metadata", "[checkpoint]") {
    TempDir tmp;
    const Checkpoint saved = sample_checkpoint();
    const std::string path = tmp.file("model.safetensors");
    normgrad::save_checkpoint(path, saved);
    CHECK(tmp.entries() == std::vector<std::string>{"model.safetensors"});

    const Checkpoint loaded = normgrad::load_checkpoint(path);
    check_same(loaded, saved);
    CHECK(loaded.tensors[2].tensor.rank() == 0);
    CHECK(loaded.tensors[2].tensor.item() == 3.5f);
    CHECK(loaded.metadata.at("format") == "pt");
    CHECK(loaded.metadata.size() == saved.metadata.size() + 2);

    const Bytes bytes = read_file(path);
    check_same(normgrad::parse_checkpoint(bytes, "memory"), saved);
    const uint64_t n = normgrad::parse_checkpoint(bytes, "m").metadata.size();  // still valid
    CHECK(n == saved.metadata.size() + 2);

    // Overwriting an existing checkpoint replaces it.
    Checkpoint other;
    other.tensors.push_back({"x", Tensor::full(Shape{2}, 7.f)});
    normgrad::save_checkpoint(path, other);
    check_same(normgrad::load_checkpoint(path), other);

    // An empty checkpoint is valid too: header only, empty data section.
    normgrad::save_checkpoint(path, Checkpoint{});
    CHECK(normgrad::load_checkpoint(path).tensors.empty());
}

TEST_CASE("checkpoint: the file follows the safetensors layout byte for byte", "[checkpoint]") {
    TempDir tmp;
    Checkpoint c;
    c.tensors.push_back({"a", Tensor::from(Shape{2}, std::vector<float>{1.f, -2.f})});
    const std::string path = tmp.file("a.safetensors");
    normgrad::save_checkpoint(path, c);
    const Bytes bytes = read_file(path);

    const Bytes data = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0};  // 1.0f, -2.0f, LE
    std::string header = R"({"__metadata__":{"format":"pt","normgrad.crc32":"00000000"},)"
                         R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    header.append((8 - header.size() % 8) % 8, ' ');
    CHECK(header.size() % 8 == 0);
    // The CRC-32 of the whole file (length prefix, header with the digits zeroed, data), computed
    // here from the definition, not with the code under test.
    const std::string crc = fmt::format("{:08x}", crc_of(st_file(header, data)));
    header.replace(header.find("00000000"), 8, crc);
    const Bytes expected = st_file(header, data);
    CHECK(std::string(bytes.begin() + 8, bytes.end() - 8) == header);
    CHECK(bytes == expected);
}

TEST_CASE("checkpoint: damaged files are rejected with a precise message", "[checkpoint]") {
    const Bytes four = f32_bytes({1, 2});  // 8 bytes: a shape [2] tensor
    auto one = [](const std::string& entry) { return "{\"w\":" + entry + "}"; };
    const std::string good_entry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
    std::string many_ones = "1";
    for (int i = 0; i < 99; ++i) many_ones += ",1";
    const Bytes zero_crc =
        st_file(R"({"__metadata__":{"normgrad.crc32":"00000000"},"w":)" + good_entry + "}", four);
    struct Case {
        const char* name;
        Bytes content;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {"empty", {}, "file is empty"},
        {"shorter than 8 bytes", {1, 0, 0}, "file has 3 bytes, shorter than the 8-byte header"},
        {"header length 0", le64(0), "header length is 0"},
        {"header runs past end", concat(le64(100), Bytes(12, ' ')),
         "header length 100 runs past the end of the file (20 bytes)"},
        {"header length 2^63", concat(le64(uint64_t{1} << 63), Bytes(4, ' ')),
         "header length 9223372036854775808 is absurdly large (expected at most 100000000"},
        {"header over 100 MB", le64(100'000'001), "is absurdly large"},
        {"invalid UTF-8", st_file("{\"w\xff\":1}", {}), "header is not valid UTF-8 (byte 0xff"},
        {"overlong UTF-8", st_file("{\"\xc0\xaf\":1}", {}), "not valid UTF-8"},
        {"UTF-8 surrogate", st_file("{\"\xed\xa0\x80\":1}", {}), "not valid UTF-8"},
        {"not an object", st_file("[1, 2]", {}), "header is not a JSON object: it starts with '['"},
        {"byte order mark", st_file("\xef\xbb\xbf{}", {}), "starts with byte 0xef"},
        {"leading space", st_file(" {}", {}), "starts with byte 0x20"},
        {"malformed JSON", st_file(R"({"w":})", {}), "header is malformed JSON at byte 6"},
        {"truncated JSON", st_file(R"({"w":{"dtype":"F32")", {}), "header is malformed JSON"},
        {"JSON then garbage", st_file("{} x", {}), "header is malformed JSON"},
        {"NUL in header", st_file(std::string("{}\0 x", 5), {}),
         "header contains a NUL byte at header offset 2"},
        {"number beyond double", st_file(R"({"w":1e999})", {}),
         "header is malformed JSON: number overflow parsing '1e999'"},
        {"lone surrogate escape", st_file(R"({"\ud800":1})", {}), "header is malformed JSON"},
        {"entry not object", st_file(one("5"), {}), "tensor 'w': entry is number 5"},
        {"no dtype", st_file(one(R"({"shape":[2],"data_offsets":[0,8]})"), four),
         "tensor 'w': no 'dtype'"},
        {"no shape", st_file(one(R"({"dtype":"F32","data_offsets":[0,8]})"), four),
         "tensor 'w': no 'shape'"},
        {"no data_offsets", st_file(one(R"({"dtype":"F32","shape":[2]})"), four),
         "tensor 'w': no 'data_offsets'"},
        {"unknown key",
         st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1})"), four),
         "tensor 'w': unexpected key 'x'"},
        {"dtype not string", st_file(one(R"({"dtype":32,"shape":[2],"data_offsets":[0,8]})"), four),
         "tensor 'w': dtype is number 32"},
        {"unsupported dtype",
         st_file(one(R"({"dtype":"F16","shape":[2],"data_offsets":[0,4]})"), f32_bytes({1})),
         "tensor 'w': dtype F16 is not supported (expected F32"},
        {"unknown dtype", st_file(one(R"({"dtype":"F33","shape":[2],"data_offsets":[0,8]})"), four),
         "tensor 'w': unknown dtype 'F33' (expected F32)"},
        {"shape not array",
         st_file(one(R"({"dtype":"F32","shape":"2","data_offsets":[0,8]})"), four),
         "tensor 'w': shape is string \"2\" (expected an array"},
        {"negative shape",
         st_file(one(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), four),
         "tensor 'w': shape entry 0 is negative (-2)"},
        {"fractional shape",
         st_file(one(R"({"dtype":"F32","shape":[1,2.5],"data_offsets":[0,8]})"), four),
         "tensor 'w': shape entry 1 is number 2.5 (expected a non-negative integer)"},
        {"integral float shape",
         st_file(one(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})"), four),
         "shape entry 0 is number 2.0"},
        {"bool shape", st_file(one(R"({"dtype":"F32","shape":[true],"data_offsets":[0,8]})"), four),
         "shape entry 0 is boolean true"},
        {"rank 5",
         st_file(one(R"({"dtype":"F32","shape":[1,1,1,1,2],"data_offsets":[0,8]})"), four),
         "tensor 'w': shape [1,1,1,1,2] has rank 5 (expected rank 0 to 4)"},
        {"shape entry over int64",
         st_file(one(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]})"),
                 four),
         "shape entry 0 (18446744073709551615) overflows a 64-bit signed integer"},
        {"shape entry over uint64",
         st_file(one(R"({"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]})"),
                 four),
         "shape entry 0 is number"},
        {"element count overflow",
         st_file(one(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]})"),
                 four),
         "has more elements than a 64-bit integer can count"},
        {"byte count overflow",
         st_file(one(R"({"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,8]})"),
                 four),
         "needs more bytes than a 64-bit integer can count"},
        {"offsets not array", st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":8})"), four),
         "tensor 'w': data_offsets is number 8 (expected two non-negative integers"},
        {"three offsets",
         st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4,8]})"), four),
         "data_offsets is array [0,4,8] (expected two non-negative integers"},
        {"negative offset",
         st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})"), four),
         "expected two non-negative integers"},
        {"fractional offset",
         st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8.0]})"), four),
         "expected two non-negative integers"},
        {"begin after end",
         st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})"), four),
         "tensor 'w': data_offsets [8, 0] begin after their end"},
        {"end past data",
         st_file(one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), four),
         "tensor 'w': data_offsets [0, 16] run past the end of the data section (8 bytes)"},
        {"huge end past data",
         st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]})"),
                 four),
         "run past the end of the data section (8 bytes)"},
        {"length not 4*numel",
         st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})"), f32_bytes({1})),
         "tensor 'w': data_offsets [0, 4] hold 4 bytes but shape [2] of F32 needs 8 bytes"},
        {"overlap",
         st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                 f32_bytes({1, 2, 3})),
         "tensors 'a' (bytes [0, 8)) and 'b' (bytes [4, 12)) overlap"},
        {"same offsets twice",
         st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                 four),
         "tensors 'a' (bytes [0, 8)) and 'b' (bytes [0, 8)) overlap"},
        {"gap between tensors",
         st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                 f32_bytes({1, 2, 3})),
         "gap in the data section: bytes [4, 8) before tensor 'b' belong to no tensor"},
        {"gap at start", st_file(one(R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})"), four),
         "gap in the data section: bytes [0, 4) before tensor 'w'"},
        {"trailing bytes",
         st_file(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})"), four),
         "4 trailing bytes: the data section has 8 bytes but the tensors cover only 4"},
        {"data but no tensors", st_file("{}", four), "8 trailing bytes"},
        {"duplicate tensor name",
         st_file("{\"w\":" + good_entry + ",\"w\":" + good_entry + "}", four),
         "duplicate tensor name 'w' in the header"},
        {"duplicate key in entry",
         st_file(one(R"({"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]})"), four),
         "tensor 'w': key 'dtype' appears twice"},
        {"two __metadata__", st_file(R"({"__metadata__":{},"__metadata__":{}})", {}),
         "header has two \"__metadata__\" entries"},
        {"duplicate metadata key", st_file(R"({"__metadata__":{"k":"a","k":"b"}})", {}),
         "duplicate metadata key 'k'"},
        {"metadata not object", st_file(R"({"__metadata__":["a"]})", {}),
         "__metadata__ is array [\"a\"] (expected an object of strings)"},
        {"metadata value not string", st_file(R"({"__metadata__":{"k":1}})", {}),
         "metadata 'k' is number 1 (expected a string)"},
        // The recorded CRC is the placeholder itself, so the file's CRC is that of its bytes.
        {"checksum mismatch", zero_crc,
         fmt::format("checksum mismatch: file is damaged or was edited (the file's CRC-32 is "
                     "{:08x}, the metadata records 00000000)",
                     crc_of(zero_crc))},
        {"checksum malformed",
         st_file(R"({"__metadata__":{"normgrad.crc32":"xyz"},"w":)" + good_entry + "}", four),
         "metadata normgrad.crc32 is \"xyz\" (expected 8 lowercase hexadecimal digits, the CRC-32 "
         "of the whole file)"},
        {"checksum upper case",
         st_file(R"({"__metadata__":{"normgrad.crc32":"ABCDEF01"},"w":)" + good_entry + "}", four),
         "metadata normgrad.crc32 is \"ABCDEF01\" (expected 8 lowercase hexadecimal digits"},
        {"older normgrad's data-only checksum",
         st_file(fmt::format(R"({{"__metadata__":{{"normgrad.checksum":"{:08x}"}},"w":{}}})",
                             crc_of(four), good_entry),
                 four),
         "written by an older normgrad: its metadata normgrad.checksum is a CRC-32 of the data "
         "section only, which cannot detect an edited header, so the file cannot be trusted "
         "(expected normgrad.crc32, a CRC-32 of the whole file: re-save the checkpoint with this "
         "version of normgrad)"},
        {"normgrad metadata without checksum",
         st_file(
             R"({"__metadata__":{"format":"pt","normgrad.model":"mlp"},"w":)" + good_entry + "}",
             four),
         "metadata has normgrad keys (e.g. 'normgrad.model') but no normgrad.crc32 (expected a "
         "normgrad checkpoint to carry normgrad.crc32, the CRC-32 of the whole file)"},
        {"checksum key twice",
         st_file(R"({"__metadata__":{"normgrad.crc32":"00000000","normgrad.crc32":"00000000"}})",
                 {}),
         "duplicate metadata key 'normgrad.crc32'"},
        // A key ending in an escaped quote puts the field's text in the header a second time.
        {"checksum text twice",
         sealed_file(R"({"__metadata__":{"x\"normgrad.crc32":"00000000",)"
                     R"("normgrad.crc32":"00000000"}})",
                     {}),
         "the header holds the text \"normgrad.crc32\":\" 2 times (expected it exactly once: the "
         "checksum written as \"normgrad.crc32\":\"<8 hex digits>\", with no spaces or escapes, "
         "as normgrad writes it)"},
        {"checksum with a space", st_file(R"({"__metadata__":{"normgrad.crc32": "00000000"}})", {}),
         "the header holds the text \"normgrad.crc32\":\" 0 times"},
        {"checksum key escaped",
         st_file(R"({"__metadata__":{"normgrad\u002ecrc32":"00000000"}})", {}),
         "the header holds the text \"normgrad.crc32\":\" 0 times"},
        {"checksum value escaped",
         st_file(R"({"__metadata__":{"normgrad.crc32":"\u00300000000"}})", {}),
         "the header's text \"normgrad.crc32\":\" is not followed by the recorded value 00000000 "
         "and a quote"},
        {"nested too deep", st_file(R"({"w":{"shape":[[[[1]]]]}})", {}),
         "header JSON is nested more than 4 levels deep"},
        {"long array", st_file(one(R"({"shape":[)" + many_ones + "]}"), {}),
         "header JSON has an array of more than 64 elements"},
    };

    TempDir tmp;
    for (const Case& c : cases) {
        INFO("case: " << c.name);
        const std::string path = tmp.file("case.safetensors");
        write_file(path, c.content);
        const std::string from_file = error_of([&] { normgrad::load_checkpoint(path); });
        CHECK_THAT(from_file, Catch::StartsWith(path + ": ") && Catch::Contains(c.expected));
        const std::string from_memory =
            error_of([&] { normgrad::parse_checkpoint(c.content, "mem"); });
        CHECK_THAT(from_memory, Catch::StartsWith("mem: ") && Catch::Contains(c.expected));
    }

    // A valid hand-written file with a correct checksum, and padding spaces, is accepted.
    const Bytes ok_file = sealed_file(
        R"({"__metadata__":{"normgrad.crc32":"00000000"},"w":)" + good_entry + "}     ", four);
    const Checkpoint ok = normgrad::parse_checkpoint(ok_file, "ok");
    REQUIRE(ok.tensors.size() == 1);
    CHECK(ok.tensors[0].tensor.to_vector() == std::vector<float>{1, 2});
    // The CRC covers the padding too.
    CHECK_THAT(
        error_of([&] { normgrad::parse_checkpoint(edited(ok_file, "}     ", "}    \t"), "p"); }),
        Catch::StartsWith("p: checksum mismatch"));

    SECTION("missing file and directory") {
        const std::string missing = tmp.file("nope.safetensors");
        CHECK_THAT(error_of([&] { normgrad::load_checkpoint(missing); }),
                   Catch::StartsWith(missing + ": file not found"));
        CHECK_THAT(error_of([&] { normgrad::load_checkpoint(tmp.path.string()); }),
                   Catch::StartsWith(tmp.path.string() + ": is a directory"));
    }
}

TEST_CASE("checkpoint: the CRC-32 covers the header, so valid-looking edits are refused",
          "[checkpoint]") {
    TempDir tmp;
    Checkpoint c;
    c.tensors.push_back({"a", Tensor::from(Shape{2}, std::vector<float>{1.f, 2.f})});
    c.tensors.push_back({"b", Tensor::from(Shape{2}, std::vector<float>{3.f, 4.f})});
    c.tensors.push_back({"c", Tensor::from(Shape{2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6})});
    c.metadata = {{"normgrad.model", "mlp"}};
    const std::string path = tmp.file("m.safetensors");
    normgrad::save_checkpoint(path, c);
    const Bytes good = read_file(path);
    check_same(normgrad::parse_checkpoint(good, "good"), c);
    CHECK(reseal(good) == good);  // the writer's CRC is the one the format defines

    // The error from the file and from memory (both named `path`).
    auto error_for = [&](const Bytes& bad) {
        write_file(path, bad);
        const std::string from_file = error_of([&] { normgrad::load_checkpoint(path); });
        CHECK(error_of([&] { normgrad::parse_checkpoint(bad, path); }) == from_file);
        return from_file;
    };

    SECTION("two same-sized tensors with their data_offsets swapped") {
        const Bytes bad = swapped(good, R"("data_offsets":[0,8])", R"("data_offsets":[8,16])");
        CHECK(error_for(bad) == mismatch_of(path, bad));
        // Resealed, the edit loads and swaps the values: only the CRC stood in its way.
        const Checkpoint r = normgrad::parse_checkpoint(reseal(bad), "resealed");
        CHECK(tensor_named(r, "a").to_vector() == std::vector<float>{3.f, 4.f});
        CHECK(tensor_named(r, "b").to_vector() == std::vector<float>{1.f, 2.f});
    }
    SECTION("a metadata value edited") {
        const Bytes bad = edited(good, R"("normgrad.model":"mlp")", R"("normgrad.model":"cnn")");
        CHECK(error_for(bad) == mismatch_of(path, bad));
        CHECK(normgrad::parse_checkpoint(reseal(bad), "r").metadata.at("normgrad.model") == "cnn");
    }
    SECTION("a shape edited, keeping the byte count") {
        const Bytes bad = edited(good, R"("shape":[2,3])", R"("shape":[3,2])");
        CHECK(error_for(bad) == mismatch_of(path, bad));
        CHECK(tensor_named(normgrad::parse_checkpoint(reseal(bad), "r"), "c").shape() ==
              Shape{3, 2});
    }
    SECTION("the recorded CRC edited, or one data byte") {
        Bytes bad = good;
        const size_t at = crc_digits_at(bad);
        bad[at] = bad[at] == '0' ? '1' : '0';
        CHECK(error_for(bad) == mismatch_of(path, bad));
        bad = good;
        bad.back() ^= 0x01;
        CHECK(error_for(bad) == mismatch_of(path, bad));
    }
    SECTION("more padding, with the length prefix updated to match") {
        const std::string header(good.begin() + 8, good.end() - 40);  // 40 data bytes
        const Bytes bad = st_file(header + std::string(8, ' '), Bytes(good.end() - 40, good.end()));
        CHECK(error_for(bad) == mismatch_of(path, bad));
        CHECK(normgrad::parse_checkpoint(reseal(bad), "r").tensors.size() == 3);
    }
    SECTION("the checksum key renamed") {
        CHECK(error_for(edited(good, "\"normgrad.crc32\"", "\"normgrad.crc99\"")) ==
              path +
                  ": metadata has normgrad keys (e.g. 'normgrad.crc99') but no normgrad.crc32 "
                  "(expected a normgrad checkpoint to carry normgrad.crc32, the CRC-32 of the "
                  "whole file)");
        CHECK_THAT(error_for(edited(good, "\"normgrad.crc32\"", "\"xormgrad.crc32\"")),
                   Catch::StartsWith(path + ": metadata has normgrad keys (e.g. "
                                            "'normgrad.model') but no normgrad.crc32"));
    }
}

TEST_CASE("checkpoint: files without normgrad metadata (e.g. from PyTorch) load unchecked",
          "[checkpoint]") {
    const std::string tensors = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]})";
    const Bytes data = f32_bytes({1, 2, 3, 4});
    for (const std::string& meta :
         {std::string(R"("__metadata__":{"format":"pt"},)"), std::string(),
          std::string(R"("__metadata__":{"normgrad":"x","normgradx.crc32":"y","note":"z"},)")}) {
        INFO("metadata: " << meta);
        const Bytes file = st_file("{" + meta + tensors + "}", data);
        const Checkpoint loaded = normgrad::parse_checkpoint(file, "torch");
        REQUIRE(loaded.tensors.size() == 2);
        CHECK(tensor_named(loaded, "a").to_vector() == std::vector<float>{1, 2});
        CHECK(tensor_named(loaded, "b").to_vector() == std::vector<float>{3, 4});
        CHECK(loaded.metadata.count(normgrad::kCheckpointChecksumKey) == 0);
        // Nothing to check it against: the same edit loads, with the values swapped.
        const Bytes edit = swapped(file, R"("data_offsets":[0,8])", R"("data_offsets":[8,16])");
        CHECK(tensor_named(normgrad::parse_checkpoint(edit, "torch"), "a").to_vector() ==
              std::vector<float>{3, 4});
    }
    // The same file through load_checkpoint.
    TempDir tmp;
    write_file(tmp.file("t.safetensors"),
               st_file(R"({"__metadata__":{"format":"pt"},)" + tensors + "}", data));
    const Checkpoint loaded = normgrad::load_checkpoint(tmp.file("t.safetensors"));
    CHECK(loaded.metadata == std::map<std::string, std::string>{{"format", "pt"}});
    CHECK(tensor_named(loaded, "b").to_vector() == std::vector<float>{3, 4});
}

TEST_CASE("checkpoint: saving writes its own checksum key", "[checkpoint]") {
    TempDir tmp;
    const std::string path = tmp.file("s.safetensors");
    Checkpoint c;
    c.tensors.push_back({"w", Tensor::full(Shape{3}, 2.f)});
    // An older version's key is dropped; a stale normgrad.crc32 (e.g. from a loaded checkpoint)
    // is replaced by the new file's.
    c.metadata = {{"normgrad.checksum", "12345678"}, {"normgrad.crc32", "ffffffff"}};
    normgrad::save_checkpoint(path, c);
    const Checkpoint loaded = normgrad::load_checkpoint(path);
    CHECK(loaded.metadata.count("normgrad.checksum") == 0);
    CHECK(loaded.metadata.at("normgrad.crc32") != "ffffffff");
    CHECK(read_file(path) == reseal(read_file(path)));
    normgrad::save_checkpoint(path, loaded);  // a loaded checkpoint saves again
    Checkpoint without_crc = loaded;
    without_crc.metadata.erase("normgrad.crc32");  // the new file's differs (other key order)
    check_same(normgrad::load_checkpoint(path), without_crc);

    // A key that puts the checksum's text in the header a second time is refused.
    Checkpoint ambiguous;
    ambiguous.metadata = {{"x\"normgrad.crc32", "00000000"}};
    const std::string other = tmp.file("other.safetensors");
    CHECK(error_of([&] { normgrad::save_checkpoint(other, ambiguous); }) ==
          other +
              ": cannot save checkpoint: a metadata key contains the text \"normgrad.crc32\":\" "
              "(expected it only where normgrad records the checksum)");
    CHECK(!fs::exists(other));
}

TEST_CASE("checkpoint: check_finite names the first tensor and element that is not finite",
          "[checkpoint]") {
    const std::string tail =
        " (expected finite numbers: a model with NaN or infinity cannot be evaluated or trained)";
    auto values = [](size_t n) {
        std::vector<float> v(n);
        for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) - 3.f;
        return v;
    };
    const float inf = std::numeric_limits<float>::infinity();
    auto with = [&](std::vector<std::pair<size_t, float>> bad_in_second,
                    std::vector<std::pair<size_t, float>> bad_in_first = {}) {
        Checkpoint c;
        std::vector<float> first = values(6), second = values(20);
        for (auto [i, v] : bad_in_first) first[i] = v;
        for (auto [i, v] : bad_in_second) second[i] = v;
        c.tensors.push_back({"fc0.weight", Tensor::from(Shape{2, 3}, first)});
        c.tensors.push_back({"fc1.weight", Tensor::from(Shape{4, 5}, second)});
        return error_of([&] { normgrad::check_finite(c, "m.safetensors"); });
    };
    CHECK(with({{17, std::nanf("")}}) ==
          "m.safetensors: tensor 'fc1.weight' holds nan at element 17" + tail);
    CHECK(with({{17, inf}, {18, std::nanf("")}}) ==
          "m.safetensors: tensor 'fc1.weight' holds inf at element 17" + tail);
    CHECK(with({{0, -inf}}) == "m.safetensors: tensor 'fc1.weight' holds -inf at element 0" + tail);
    CHECK(with({{19, from_bits(0xffc00000)}}) ==  // a NaN with the sign bit set
          "m.safetensors: tensor 'fc1.weight' holds nan at element 19" + tail);
    CHECK(with({{1, std::nanf("")}}, {{5, inf}}) ==
          "m.safetensors: tensor 'fc0.weight' holds inf at element 5" + tail);
    // Finite extremes, subnormals, negative zero, empty and rank-0 tensors pass.
    CHECK(with({{0, std::numeric_limits<float>::max()},
                {1, -std::numeric_limits<float>::max()},
                {2, from_bits(0x00000001)},
                {3, from_bits(0x80000000)}}) == "<no CheckpointError thrown>");
    Checkpoint odd;
    odd.tensors.push_back({"empty", Tensor::empty(Shape{0, 3})});
    odd.tensors.push_back({"step", Tensor::scalar(inf)});
    CHECK(error_of([&] { normgrad::check_finite(odd, "o"); }) ==
          "o: tensor 'step' holds inf at element 0" + tail);
    CHECK(error_of([&] { normgrad::check_finite(Checkpoint{}, "o"); }) ==
          "<no CheckpointError thrown>");
}

TEST_CASE("checkpoint: random corruption never crashes", "[checkpoint]") {
    TempDir tmp;
    Checkpoint c = sample_checkpoint();
    const std::string path = tmp.file("c.safetensors");
    normgrad::save_checkpoint(path, c);
    const Bytes good = read_file(path);
    std::mt19937 rng(12345);
    int rejected = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        Bytes b = good;
        const int kind = iter % 3;
        if (kind == 0) {  // flip a few bytes, mostly in the header
            const int flips = 1 + static_cast<int>(rng() % 3);
            for (int k = 0; k < flips; ++k) {
                const size_t limit = rng() % 4 ? std::min<size_t>(b.size(), 400) : b.size();
                b[rng() % limit] ^= static_cast<uint8_t>(1 + rng() % 255);
            }
        } else if (kind == 1) {  // truncate
            b.resize(rng() % b.size());
        } else {  // insert a byte
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(rng() % b.size()),
                     static_cast<uint8_t>(rng()));
        }
        try {
            const Checkpoint loaded = normgrad::parse_checkpoint(b, "fuzz");
            // Every byte is covered by the CRC, so a change gets through only if it also removed
            // every normgrad key from the metadata (then the file is not a normgrad checkpoint).
            for (const auto& [key, value] : loaded.metadata)
                CHECK_THAT(key, !Catch::StartsWith("normgrad."));
        } catch (const CheckpointError& e) {
            ++rejected;
            CHECK_THAT(std::string(e.what()), Catch::StartsWith("fuzz: "));
        }
    }
    CHECK(rejected > 2900);  // almost every change is caught (header checks or the checksum)
}

TEST_CASE("checkpoint: copy_into checks names and shapes", "[checkpoint]") {
    Checkpoint c;
    c.tensors.push_back({"w", Tensor::full(Shape{2, 3}, 1.f)});
    c.tensors.push_back({"b", Tensor::full(Shape{3}, 2.f)});
    c.tensors.push_back({"extra", Tensor::full(Shape{1}, 3.f)});
    auto dest = [] {
        return std::vector<NamedTensor>{{"w", Tensor::zeros(Shape{2, 3})},
                                        {"b", Tensor::zeros(Shape{3})}};
    };

    SECTION("unexpected names are refused unless allowed") {
        const auto d = dest();
        CHECK_THAT(error_of([&] { normgrad::copy_into(c, d, "ck"); }),
                   Catch::StartsWith("ck: checkpoint does not match the destination") &&
                       Catch::Contains("1 unexpected tensor(s), in the checkpoint but not "
                                       "expected: 'extra'"));
        CHECK(d[0].tensor.to_vector() == std::vector<float>(6, 0.f));  // nothing copied
        normgrad::copy_into(c, d, "ck", /*allow_extra=*/true);
        CHECK(d[0].tensor.to_vector() == std::vector<float>(6, 1.f));
        CHECK(d[1].tensor.to_vector() == std::vector<float>(3, 2.f));
    }
    SECTION("missing names and wrong shapes are all listed") {
        auto d = dest();
        d.push_back({"gamma", Tensor::zeros(Shape{3})});
        d.push_back({"beta", Tensor::zeros(Shape{3})});
        d[1].tensor = Tensor::zeros(Shape{1, 3});
        const std::string msg = error_of([&] { normgrad::copy_into(c, d, "ck", true); });
        CHECK_THAT(msg, Catch::Contains("2 missing tensor(s), expected but not in the "
                                        "checkpoint: 'gamma', 'beta'"));
        CHECK_THAT(msg, Catch::Contains("tensor 'b' has shape [3] in the checkpoint (expected "
                                        "[1, 3])"));
        CHECK_THAT(msg, !Catch::Contains("unexpected"));
        CHECK(d[0].tensor.to_vector() == std::vector<float>(6, 0.f));
    }
    SECTION("rank-0 tensors and a module-style round trip through a file") {
        TempDir tmp;
        Checkpoint s;
        s.tensors.push_back({"step", Tensor::scalar(42.f)});
        normgrad::save_checkpoint(tmp.file("s.safetensors"), s);
        std::vector<NamedTensor> d = {{"step", Tensor::scalar(0.f)}};
        normgrad::copy_into(normgrad::load_checkpoint(tmp.file("s.safetensors")), d, "s");
        CHECK(d[0].tensor.item() == 42.f);
        d[0].tensor = Tensor::zeros(Shape{1});
        CHECK_THAT(error_of([&] {
                       normgrad::copy_into(normgrad::load_checkpoint(tmp.file("s.safetensors")), d,
                                           "s");
                   }),
                   Catch::Contains("tensor 'step' has shape [] in the checkpoint (expected [1])"));
    }
}

TEST_CASE("checkpoint: a failed save leaves no temporary and keeps the old file", "[checkpoint]") {
    TempDir tmp;
    Checkpoint old_ckpt;
    old_ckpt.tensors.push_back({"old", Tensor::full(Shape{4}, 5.f)});
    const std::string dest = tmp.file("model.safetensors");
    normgrad::save_checkpoint(dest, old_ckpt);
    const Bytes old_bytes = read_file(dest);

    Checkpoint big;
    big.tensors.push_back({"big", Tensor::full(Shape{256, 1024}, 1.f)});  // 1 MiB

    SECTION("destination directory does not exist") {
        const std::string bad = tmp.file("no-such-dir/model.safetensors");
        const std::string msg = error_of([&] { normgrad::save_checkpoint(bad, big); });
        CHECK_THAT(msg, Catch::StartsWith(bad + ": cannot save checkpoint: cannot create the "
                                                "temporary file") &&
                            Catch::Contains("No such file or directory"));
    }
    SECTION("destination is a directory: refused before anything is written") {
        const std::string dir = tmp.file("a-directory");
        fs::create_directory(dir);
        const std::string msg = error_of([&] { normgrad::save_checkpoint(dir, big); });
        CHECK_THAT(msg, Catch::StartsWith(dir + ": cannot save checkpoint: is a directory"));
        CHECK(fs::is_directory(dir));
        CHECK(fs::is_empty(dir));
    }
    SECTION("invalid checkpoints are refused before anything is written") {
        Checkpoint dup;
        dup.tensors.push_back({"x", Tensor::scalar(1.f)});
        dup.tensors.push_back({"x", Tensor::scalar(2.f)});
        CHECK_THAT(error_of([&] { normgrad::save_checkpoint(dest, dup); }),
                   Catch::Contains("tensor name 'x' appears twice"));
        Checkpoint reserved;
        reserved.tensors.push_back({"__metadata__", Tensor::scalar(1.f)});
        CHECK_THAT(error_of([&] { normgrad::save_checkpoint(dest, reserved); }),
                   Catch::Contains("\"__metadata__\" is reserved"));
        Checkpoint undefined;
        undefined.tensors.push_back({"u", Tensor()});
        CHECK_THAT(error_of([&] { normgrad::save_checkpoint(dest, undefined); }),
                   Catch::Contains("tensor 'u' is undefined"));
        Checkpoint bad_utf8;
        bad_utf8.tensors.push_back({"bad\xff", Tensor::scalar(1.f)});
        CHECK_THAT(error_of([&] { normgrad::save_checkpoint(dest, bad_utf8); }),
                   Catch::Contains("not valid UTF-8"));
    }
    SECTION("a write fails part-way (file size limit: EFBIG)") {
        rlimit old_limit{};
        REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
        rlimit small = old_limit;
        small.rlim_cur = 64 * 1024;
        auto old_handler = signal(SIGXFSZ, SIG_IGN);
        REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
        const std::string msg = error_of([&] { normgrad::save_checkpoint(dest, big); });
        setrlimit(RLIMIT_FSIZE, &old_limit);
        signal(SIGXFSZ, old_handler);
        CHECK_THAT(msg, Catch::StartsWith(dest + ": cannot save checkpoint: cannot write " + dest +
                                          ".normgrad-tmp-") &&
                            Catch::Contains("File too large"));
    }
    CHECK(tmp.entries().size() <= 2);  // model.safetensors (+ a-directory)
    for (const std::string& e : tmp.entries()) CHECK(e.find("normgrad-tmp-") == std::string::npos);
    CHECK(read_file(dest) == old_bytes);
    check_same(normgrad::load_checkpoint(dest), old_ckpt);
}

// Also leaves a reference file in the build tree for tests/reference/check_safetensors_torch.py.
TEST_CASE("checkpoint: reference file for the PyTorch check", "[checkpoint]") {
    const std::string path =
        std::string(NORMGRAD_BINARY_DIR) + "/safetensors_reference.safetensors";
    const Checkpoint c = sample_checkpoint();
    normgrad::save_checkpoint(path, c);
    check_same(normgrad::load_checkpoint(path), c);
}
