// IDX reader: malformed inputs (each with the error it must give) and round trips on tiny
// generated fixtures, raw and gzip, written into a fresh temporary directory.
#include <fmt/format.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "normgrad/idx.hpp"

namespace fs = std::filesystem;
using normgrad::DataError;
using Bytes = std::vector<uint8_t>;

namespace {

// A unique directory under the system temp dir, removed with everything in it.
struct TempDir {
    fs::path path;
    TempDir() {
        std::random_device rd;
        path = fs::temp_directory_path() / fmt::format("normgrad-idx-{:08x}{:08x}", rd(), rd());
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_file(const std::string& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

// Header for `dims` (type byte and dimension count may be overridden), then `data` as is.
Bytes idx(const std::vector<uint32_t>& dims, const Bytes& data, uint8_t type = 0x08) {
    Bytes out = {0, 0, type, static_cast<uint8_t>(dims.size())};
    for (uint32_t d : dims)
        for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(d >> shift));
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

Bytes iota_bytes(size_t n, unsigned modulo = 251) {
    Bytes out(n);
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * 7 % modulo);
    return out;
}

Bytes gzip(const Bytes& raw) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    Bytes out(deflateBound(&zs, raw.size()) + 64);
    zs.next_in = const_cast<Bytes::value_type*>(raw.data());
    zs.avail_in = static_cast<uInt>(raw.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

Bytes concat(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const DataError& e) {
        return e.what();
    }
    return "<no DataError thrown>";
}

}  // namespace

TEST_CASE("IDX: malformed files are rejected with a precise message", "[idx]") {
    const Bytes valid = idx({2, 3}, iota_bytes(6));
    const Bytes valid_gz = gzip(valid);
    Bytes bad_crc = valid_gz;
    bad_crc[bad_crc.size() - 8] ^= 0xff;  // the gzip trailer's CRC-32
    Bytes cut_gz(valid_gz.begin(), valid_gz.end() - 10);

    struct Case {
        const char* name;
        Bytes content;
        const char* expected;
    };
    const std::vector<Case> cases = {
        {"empty", {}, "file is empty"},
        {"header under 4 bytes", {0, 0, 8}, "truncated header: file has 3 bytes"},
        {"header missing dims",
         {0, 0, 8, 3, 0, 0, 0, 2},
         "truncated header: 3 dimensions need 16 header bytes, file has 8"},
        {"wrong magic", {1, 2, 8, 1, 0, 0, 0, 1, 5}, "bad magic number 0x01020801"},
        {"wrong magic zeros first", {0, 1, 8, 1, 0, 0, 0, 1, 5}, "bad magic number 0x00010801"},
        {"float32 type", idx({1}, {0, 0, 0, 0}, 0x0D), "element type 0x0d (float32)"},
        {"unknown type", idx({1}, {0}, 0x42), "element type 0x42 (unknown type)"},
        {"no dimensions", {0, 0, 8, 0}, "dimension count 0 is invalid (expected 1 to 4)"},
        {"five dimensions", idx({1, 1, 1, 1, 1}, {0}), "dimension count 5 is invalid"},
        {"zero dimension", idx({2, 0, 3}, {}), "dimension 1 is 0"},
        {"dims product overflows", idx({0xffffffff, 0xffffffff, 0xffffffff, 2}, {}),
         "overflows a 64-bit integer"},
        {"dims product over 2^31", idx({65536, 32769}, {}), "more than the limit of 2147483648"},
        {"truncated body", idx({2, 3}, iota_bytes(5)),
         "truncated: header declares 6 bytes of data, file has 5"},
        {"header only", idx({2, 3}, {}), "truncated: header declares 6 bytes of data, file has 0"},
        {"trailing bytes", idx({2, 3}, iota_bytes(8)),
         "trailing garbage: header declares 6 bytes of data, file has 2 extra bytes"},
        {"gzip bad crc", bad_crc, "corrupt gzip stream"},
        {"gzip garbage body", {0x1f, 0x8b, 0xff, 0xff, 0xff, 0xff}, "corrupt gzip stream"},
        {"gzip cut short", cut_gz, "corrupt gzip stream: compressed data ends early"},
        {"gzip then garbage", concat(valid_gz, {0, 0, 0}), "garbage after the end of the gzip"},
        {"gzip empty content", gzip({}), "decompressed data is empty"},
        {"gzip truncated body", gzip(idx({2, 3}, iota_bytes(5))),
         "truncated: header declares 6 bytes of data, decompressed data has 5"},
        // A small header followed by a long run of zeros: caught without keeping the zeros.
        {"gzip bomb-like tail", gzip(idx({1}, concat({3}, Bytes(1 << 20)))),
         "decompressed data has 1048576 extra bytes"},
    };

    TempDir tmp;
    for (const Case& c : cases) {
        INFO("case: " << c.name);
        const std::string path = tmp.file("case.idx");
        write_file(path, c.content);
        const std::string from_file = error_of([&] { normgrad::read_idx(path); });
        CHECK_THAT(from_file, Catch::Contains(c.expected));
        CHECK_THAT(from_file, Catch::StartsWith(path + ": "));
        const std::string from_memory = error_of([&] { normgrad::parse_idx(c.content, "mem"); });
        CHECK_THAT(from_memory, Catch::Contains(c.expected));
        CHECK_THAT(from_memory, Catch::StartsWith("mem: "));
    }
}

TEST_CASE("IDX: missing files, directories and devices are rejected", "[idx]") {
    TempDir tmp;
    const std::string missing = tmp.file("nope-idx1-ubyte");
    CHECK(error_of([&] { normgrad::read_idx(missing); }) == missing + ": file not found");
    CHECK(error_of([&] { normgrad::read_idx(tmp.path.string()); }) ==
          tmp.path.string() + ": is a directory (expected an IDX file)");
    if (fs::exists("/dev/null"))
        CHECK(error_of([&] { normgrad::read_idx("/dev/null"); }) ==
              "/dev/null: is not a regular file (expected an IDX file)");
}

TEST_CASE("IDX: image/label pairs are checked against each other", "[idx]") {
    struct Case {
        const char* name;
        Bytes images, labels;
        const char* expected;
    };
    const Bytes images3 = idx({3, 2, 2}, iota_bytes(12));
    const std::vector<Case> cases = {
        {"count mismatch", images3, idx({2}, {1, 2}),
         "images file has 3 images but labels file has 2 labels"},
        {"label out of range", images3, idx({3}, {1, 12, 3}),
         "label 12 at index 1 is outside 0..9"},
        {"images not 3-d", idx({3, 4}, iota_bytes(12)), idx({3}, {1, 2, 3}),
         "images file has 2 dimensions [3, 4] (expected 3: count, rows, cols)"},
        {"labels not 1-d", images3, idx({3, 1}, {1, 2, 3}),
         "labels file has 2 dimensions [3, 1] (expected 1: count)"},
        {"labels file malformed", images3, idx({3}, {1, 2}), "truncated"},
    };
    TempDir tmp;
    for (const Case& c : cases) {
        INFO("case: " << c.name);
        write_file(tmp.file("img"), c.images);
        write_file(tmp.file("lbl"), c.labels);
        CHECK_THAT(error_of([&] { normgrad::load_idx_pair(tmp.file("img"), tmp.file("lbl")); }),
                   Catch::Contains(c.expected));
    }
}

TEST_CASE("IDX: raw and gzip files round-trip exactly", "[idx]") {
    TempDir tmp;
    const Bytes data = iota_bytes(4 * 5 * 3, 256);
    const Bytes raw = idx({4, 5, 3}, data);
    write_file(tmp.file("a"), raw);
    write_file(tmp.file("a.gz"), gzip(raw));
    // A gzip file may hold several members back to back (e.g. `cat a.gz b.gz`).
    write_file(tmp.file("split.gz"), concat(gzip(Bytes(raw.begin(), raw.begin() + 7)),
                                            gzip(Bytes(raw.begin() + 7, raw.end()))));
    // Detection is by content, not by name.
    write_file(tmp.file("gz-without-suffix"), gzip(raw));

    for (const char* name : {"a", "a.gz", "split.gz", "gz-without-suffix"}) {
        INFO("file: " << name);
        const normgrad::IdxArray arr = normgrad::read_idx(tmp.file(name));
        CHECK(arr.dims == std::vector<int64_t>{4, 5, 3});
        CHECK(arr.bytes == data);
    }
    const normgrad::IdxArray mem = normgrad::parse_idx(gzip(raw), "mem");
    CHECK(mem.bytes == data);

    const normgrad::IdxArray big =
        normgrad::parse_idx(idx({255, 255}, iota_bytes(255 * 255, 256)), "big");
    CHECK(big.dims == std::vector<int64_t>{255, 255});
    CHECK(big.bytes == iota_bytes(255 * 255, 256));
}

TEST_CASE("IDX: load_mnist_split finds raw and gzip files by their usual names", "[idx]") {
    TempDir tmp;
    const Bytes train_images = iota_bytes(3 * 28 * 28, 256);
    const Bytes train_labels = {0, 9, 4};
    write_file(tmp.file("train-images-idx3-ubyte"), idx({3, 28, 28}, train_images));
    write_file(tmp.file("train-labels-idx1-ubyte"), idx({3}, train_labels));
    write_file(tmp.file("t10k-images-idx3-ubyte.gz"), gzip(idx({2, 4, 5}, iota_bytes(40))));
    write_file(tmp.file("t10k-labels-idx1-ubyte.gz"), gzip(idx({2}, {7, 1})));

    const normgrad::Dataset train = normgrad::load_mnist_split(tmp.path.string(), true);
    CHECK(train.count == 3);
    CHECK(train.rows == 28);
    CHECK(train.cols == 28);
    CHECK(train.images == train_images);
    CHECK(train.labels == train_labels);

    const normgrad::Dataset test = normgrad::load_mnist_split(tmp.path.string(), false);
    CHECK(test.count == 2);
    CHECK(test.rows == 4);
    CHECK(test.cols == 5);
    CHECK(test.images == iota_bytes(40));
    CHECK(test.labels == Bytes{7, 1});

    fs::remove(tmp.file("t10k-labels-idx1-ubyte.gz"));
    CHECK(error_of([&] { normgrad::load_mnist_split(tmp.path.string(), false); }) ==
          fmt::format("{}: missing t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz) in this "
                      "directory (run data/fetch_mnist.sh to download MNIST)",
                      tmp.path.string()));
    CHECK_THAT(error_of([&] { normgrad::load_mnist_split(tmp.file("absent"), true); }),
               Catch::Contains("MNIST directory not found"));
}
