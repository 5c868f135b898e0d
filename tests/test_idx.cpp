// IDX reader: malformed inputs (each with the error it must give) and round trips on tiny
// generated fixtures, raw and gzip, written into a fresh temporary directory.
#include <fmt/format.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
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

// A gzip stream of `head` followed by `zeros` zero bytes, compressed as it goes (the raw bytes
// are never held in memory). Level 1 is fast; level 9 packs zeros about 1000:1, near deflate's
// limit.
Bytes gzip_with_zeros(const Bytes& head, size_t zeros, int level = 1) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    const Bytes block(1 << 20, 0);
    Bytes out;
    Bytes buf(1 << 16);
    auto feed = [&](const uint8_t* p, size_t n, int flush) {
        zs.next_in = const_cast<uint8_t*>(p);
        zs.avail_in = static_cast<uInt>(n);
        do {
            zs.next_out = buf.data();
            zs.avail_out = static_cast<uInt>(buf.size());
            const int rc = deflate(&zs, flush);
            REQUIRE(rc != Z_STREAM_ERROR);
            out.insert(out.end(), buf.data(), buf.data() + (buf.size() - zs.avail_out));
        } while (zs.avail_out == 0);
    };
    feed(head.data(), head.size(), Z_NO_FLUSH);
    for (size_t left = zeros; left > 0;) {
        const size_t n = std::min(left, block.size());
        feed(block.data(), n, Z_NO_FLUSH);
        left -= n;
    }
    feed(nullptr, 0, Z_FINISH);
    deflateEnd(&zs);
    return out;
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
        {"dims product over 2^30", idx({32768, 32769}, {}),
         "dimensions [32768, 32769] declare 1073774592 bytes of data, more than the limit of "
         "1073741824 bytes"},
        {"2 GiB declared", idx({32768, 65536}, {}),
         "dimensions [32768, 65536] declare 2147483648 bytes of data, more than the limit of "
         "1073741824 bytes"},
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

TEST_CASE("IDX: a header declaring too much is refused before any data is inflated", "[idx]") {
    // 2 GiB declared; 2 MiB of zeros follow, then the stream is cut short. Had the reader inflated
    // any data before checking the size, it would have reported the cut instead.
    const Bytes head = idx({32768, 65536}, {});
    const Bytes full = gzip_with_zeros(head, 2 << 20);
    const Bytes gz(full.begin(), full.end() - 12);
    CHECK(gz.size() < 16 * 1024);
    const std::string expected =
        ": dimensions [32768, 65536] declare 2147483648 bytes of data, more than the limit of "
        "1073741824 bytes";
    CHECK(error_of([&] { normgrad::parse_idx(gz, "mem"); }) == "mem" + expected);
    TempDir tmp;
    write_file(tmp.file("big.gz"), gz);
    CHECK(error_of([&] { normgrad::read_idx(tmp.file("big.gz")); }) ==
          tmp.file("big.gz") + expected);
    // Raw, too, and one byte over the limit.
    write_file(tmp.file("big"), concat(idx({(1u << 30) + 1}, {}), Bytes(100, 1)));
    CHECK(error_of([&] { normgrad::read_idx(tmp.file("big")); }) ==
          tmp.file("big") +
              ": dimensions [1073741825] declare 1073741825 bytes of data, more than the limit "
              "of 1073741824 bytes");
    // At the limit exactly: not refused for its size (unless this machine has under 2 GiB free),
    // and nothing is allocated for the missing data.
    const std::string at_limit = error_of([&] { normgrad::parse_idx(idx({1u << 30}, {}), "mem"); });
    if (at_limit.find("memory available") == std::string::npos)
        CHECK(at_limit == "mem: truncated: header declares 1073741824 bytes of data, file has 0");
    // Under the limit the same kind of file is read (and here found truncated).
    const Bytes small = gzip_with_zeros(idx({8, 1 << 20}, {}), 4 << 20);
    CHECK(error_of([&] { normgrad::parse_idx(small, "mem"); }) ==
          "mem: truncated: header declares 8388608 bytes of data, decompressed data has 4194304");
}

namespace {

// A line "<key>: <n> kB" of /proc/self/status, in bytes.
std::optional<uint64_t> status_bytes(const std::string& key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key + ":", 0) == 0) return std::stoull(line.substr(key.size() + 1)) * 1024;
    return std::nullopt;
}

// Sets the soft limit of `resource` to `usage` (VmData or VmSize) plus `headroom` bytes for the
// duration of a scope; `ok` is false where that is not possible.
struct ScopedLimit {
    int resource;
    rlimit old{};
    bool ok = false;
    ScopedLimit(int r, const std::string& usage, uint64_t headroom) : resource(r) {
        const std::optional<uint64_t> used = status_bytes(usage);
        if (!used || getrlimit(resource, &old) != 0) return;
        rlimit lim = old;
        lim.rlim_cur = *used + headroom;
        if (old.rlim_max != RLIM_INFINITY && lim.rlim_cur > old.rlim_max) return;
        ok = setrlimit(resource, &lim) == 0;
    }
    ~ScopedLimit() {
        if (ok) setrlimit(resource, &old);
    }
};

}  // namespace

TEST_CASE("IDX: a header declaring more than half of the available memory is refused", "[idx]") {
    // 150 MB declared, no data: the available memory is capped at ~200 MB by a resource limit.
    const Bytes file = idx({150, 1000, 1000}, {});
    const std::string declared =
        "mem: dimensions [150, 1000, 1000] declare 150000000 bytes of data (150.0 MB), more than "
        "half of the ";
    for (auto [resource, usage, source] : {std::tuple{RLIMIT_DATA, "VmData", "RLIMIT_DATA"},
                                           std::tuple{RLIMIT_AS, "VmSize", "RLIMIT_AS"}}) {
        INFO("limit: " << source);
        std::string msg;
        {
            ScopedLimit limit(resource, usage, 200'000'000);
            if (!limit.ok) {
                WARN("cannot set " << source << "; not checked");
                continue;
            }
            msg = error_of([&] { normgrad::parse_idx(file, "mem"); });
        }
        CHECK_THAT(msg, Catch::StartsWith(declared) &&
                            Catch::Contains(" MB of memory available to this process (") &&
                            Catch::EndsWith("; expected data that fits in memory)"));
        // The figure is what was left under the limit (unless MemAvailable is even smaller).
        if (status_bytes("VmSize").has_value() && msg.find("MemAvailable") == std::string::npos)
            CHECK_THAT(msg, Catch::Contains(fmt::format("(room left under {};", source)));
    }
    // Without the limit, the same header is not refused for its size.
    CHECK(error_of([&] { normgrad::parse_idx(file, "mem"); }) ==
          "mem: truncated: header declares 150000000 bytes of data, file has 0");
}

namespace {

// Resets the process's peak resident size (VmHWM); false where the kernel does not allow it.
bool reset_peak_rss() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return out.good();
}

}  // namespace

TEST_CASE("IDX: reading a large file needs about its size in memory (no old and new copies)",
          "[idx]") {
    // 256 MiB of zeros in a gzip file of a few hundred KB. Growing the array by reallocation
    // peaks at 1.5 times the data (old and new buffer, 128 + 256 MiB); reserving it once peaks at
    // the data itself (plus, under AddressSanitizer, an eighth for its shadow memory).
    constexpr size_t kData = size_t{256} << 20;
    const Bytes gz = gzip_with_zeros(idx({256, 1024, 1024}, {}), kData);
    const std::optional<uint64_t> before = status_bytes("VmRSS");
    if (!before || !reset_peak_rss()) {
        WARN("cannot reset the peak resident size (/proc/self/clear_refs); not measured");
        return;
    }
    const normgrad::IdxArray arr = normgrad::parse_idx(gz, "big.gz");
    const std::optional<uint64_t> peak = status_bytes("VmHWM");
    REQUIRE(peak.has_value());
    REQUIRE(arr.bytes.size() == kData);
    CHECK(std::count(arr.bytes.begin(), arr.bytes.end(), 0) == static_cast<ptrdiff_t>(kData));
    const uint64_t growth = *peak - std::min(*peak, *before);
    INFO("peak resident size grew by " << growth / (1 << 20) << " MiB for " << kData / (1 << 20)
                                       << " MiB of data");
    CHECK(growth < kData + kData / 4 + (uint64_t{32} << 20));

    // A header that lies: 512 MiB declared, 32 MiB present. Memory follows the data present
    // (plus one 4 MiB read step), without a reallocation at the end of the data present either.
    // For gzip the array is reserved for what the compressed bytes could at most hold (1032
    // times them); level 9 brings that near the data itself, so that AddressSanitizer's shadow of
    // the reservation (an eighth of it, made resident at once) stays small too.
    constexpr size_t kPresent = size_t{32} << 20;
    const Bytes raw = concat(idx({512, 1024, 1024}, {}), Bytes(kPresent, 1));
    const Bytes lying_gz = gzip_with_zeros(idx({512, 1024, 1024}, {}), kPresent, 9);
    for (const Bytes* input : {&raw, &lying_gz}) {
        const uint64_t now = status_bytes("VmRSS").value_or(0);
        REQUIRE(reset_peak_rss());
        CHECK(error_of([&] { normgrad::parse_idx(*input, "lying"); }) ==
              fmt::format("lying: truncated: header declares 536870912 bytes of data, {} has {}",
                          input == &raw ? "file" : "decompressed data", kPresent));
        const uint64_t peak_now = status_bytes("VmHWM").value_or(0);
        const uint64_t lying_growth = peak_now - std::min(now, peak_now);
        INFO("lying header: peak resident size grew by " << lying_growth / (1 << 20) << " MiB");
        CHECK(lying_growth < kPresent + kPresent / 4 + (uint64_t{8} << 20));
    }
}

namespace {

// Runs `f` in a child process as the unprivileged user "nobody" when this process is root (whom
// permissions do not stop), else in this process; returns what `f` returned, or nullopt where
// the user cannot be changed.
template <class F>
std::optional<std::string> as_unprivileged(F&& f) {
    if (geteuid() != 0) return f();
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        std::string out = "<cannot become nobody>";
        if (setgroups(0, nullptr) == 0 && setgid(65534) == 0 && setuid(65534) == 0) out = f();
        const ssize_t n = write(fds[1], out.data(), out.size());
        _exit(n == static_cast<ssize_t>(out.size()) ? 0 : 1);
    }
    close(fds[1]);
    std::string got;
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
        got.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    if (got == "<cannot become nobody>") return std::nullopt;
    return got;
}

}  // namespace

TEST_CASE("IDX: load_mnist_split tells apart what is wrong with the folder", "[idx]") {
    TempDir tmp;
    const std::string expected = " (expected a folder holding the four MNIST-format IDX files)";

    const std::string missing = tmp.file("absent");
    CHECK(error_of([&] { normgrad::load_mnist_split(missing, true); }) ==
          missing + ": MNIST directory not found (run data/fetch_mnist.sh to download it)");

    const std::string file = tmp.file("a-file");
    write_file(file, {1, 2, 3});
    CHECK(error_of([&] { normgrad::load_mnist_split(file, true); }) ==
          file + ": is a regular file" + expected);

    const std::string loop = tmp.file("loop"), a = tmp.file("a"), b = tmp.file("b");
    fs::create_symlink(loop, loop);  // points at itself
    fs::create_symlink(b, a);        // a -> b -> a
    fs::create_symlink(a, b);
    for (const std::string& dir : {loop, a, fs::path(loop).append("sub").string()}) {
        INFO("folder " << dir);
        CHECK(error_of([&] { normgrad::load_mnist_split(dir, true); }) ==
              dir + ": symbolic link loop (too many levels of symbolic links)");
    }

    // A symlink loop in place of one of the four files (raw, or .gz when the raw name is absent).
    const std::string data = tmp.file("mnist");
    fs::create_directory(data);
    write_file(data + "/train-images-idx3-ubyte", idx({1, 2, 2}, iota_bytes(4)));
    const std::string labels = data + "/train-labels-idx1-ubyte";
    fs::create_symlink(labels, labels);
    CHECK(error_of([&] { normgrad::load_mnist_split(data, true); }) ==
          labels + ": symbolic link loop (too many levels of symbolic links)");
    fs::remove(labels);
    fs::create_symlink(labels + ".gz", labels + ".gz");
    CHECK(error_of([&] { normgrad::load_mnist_split(data, true); }) ==
          labels + ".gz: symbolic link loop (too many levels of symbolic links)");
    fs::remove(labels + ".gz");
    write_file(labels, idx({1}, {7}));
    CHECK(normgrad::load_mnist_split(data, true).labels == Bytes{7});

    // Permission denied: for the folder (its parent may not be searched), and for the files (the
    // folder itself may not be searched).
    const std::string locked = tmp.file("locked"), inside = locked + "/mnist";
    fs::create_directories(inside);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_write);
    fs::permissions(data, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                              fs::perms::others_read);
    const std::optional<std::string> denied = as_unprivileged([&] {
        return error_of([&] { normgrad::load_mnist_split(inside, true); }) + "\n" +
               error_of([&] { normgrad::load_mnist_split(data, true); });
    });
    fs::permissions(locked, fs::perms::owner_all);
    fs::permissions(data, fs::perms::owner_all);
    if (!denied) {
        WARN("cannot drop root privileges; permission errors not checked");
        return;
    }
    CHECK(*denied == inside +
                         ": cannot open the MNIST folder: Permission denied (expected a "
                         "folder holding the four MNIST-format IDX files that this user may "
                         "open)\n" +
                         data +
                         "/train-images-idx3-ubyte: cannot open the MNIST file: "
                         "Permission denied (expected a folder and files that this user "
                         "may open)");
}
