// IDX reader: every input is read through a small sequential byte source (memory, file, or
// gzip over either), so raw and compressed files go through the same validation, and the
// memory used grows with the data actually present, never with what a header claims: the
// declared size is checked against the limits right after the header, and the array is reserved
// once, at the declared size or at what the input can still hold if that is less, then filled in
// place (no reallocation, so never an old and a new copy of a large buffer).
#include "normgrad/idx.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string_view>
#include <tuple>

#include "io/file_ptr.hpp"
#include "normgrad/system_memory.hpp"

namespace normgrad {

namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxHeaderBytes = 4 + 4 * 4;
// A valid file never decompresses to more than this; anything larger is rejected as a bomb.
constexpr uint64_t kMaxDecompressedBytes = uint64_t{kIdxMaxDataBytes} + kMaxHeaderBytes;
// Deflate's largest possible expansion (zlib's FAQ: 1032:1), and room for what zlib may hold
// between calls (bits of input already taken, the rest of a match): bounds what a gzip stream of
// n compressed bytes can still produce.
constexpr uint64_t kDeflateMaxRatio = 1032;
constexpr uint64_t kInflateSlackBytes = 1 << 16;
// The data is read in steps of this size into the reserved array.
constexpr size_t kReadStep = size_t{4} << 20;
// Declared sizes up to this are not checked against the available memory (any process can hold
// them, and reading /proc for every small file would slow the fuzzer down).
constexpr uint64_t kMemoryCheckMinBytes = uint64_t{16} << 20;
constexpr uint64_t kUnknown = std::numeric_limits<uint64_t>::max();

uint64_t saturating_mul(uint64_t a, uint64_t b) {
    uint64_t r = 0;
    return __builtin_mul_overflow(a, b, &r) ? kUnknown : r;
}

uint64_t saturating_add(uint64_t a, uint64_t b) {
    return a > kUnknown - b ? kUnknown : a + b;
}

[[noreturn]] void fail(const std::string& name, std::string_view what) {
    throw DataError(fmt::format("{}: {}", name, what));
}

class Source {
  public:
    virtual ~Source() = default;
    // Reads up to n bytes; returns fewer only at the end of the data.
    virtual size_t read(uint8_t* dst, size_t n) = 0;
    // An upper bound on the bytes read() can still return (kUnknown if there is none).
    virtual uint64_t max_remaining() const = 0;
    // Consumes and counts all bytes that are left.
    virtual uint64_t count_rest() {
        std::array<uint8_t, 1 << 16> scratch;
        uint64_t total = 0;
        for (;;) {
            size_t k = read(scratch.data(), scratch.size());
            total += k;
            if (k < scratch.size()) return total;
        }
    }
};

class MemorySource : public Source {
  public:
    explicit MemorySource(std::span<const uint8_t> data) : data_(data) {}
    size_t read(uint8_t* dst, size_t n) override {
        size_t k = std::min(n, data_.size() - pos_);
        if (k > 0) std::memcpy(dst, data_.data() + pos_, k);
        pos_ += k;
        return k;
    }
    uint64_t max_remaining() const override { return data_.size() - pos_; }
    uint64_t count_rest() override {
        uint64_t k = data_.size() - pos_;
        pos_ = data_.size();
        return k;
    }

  private:
    std::span<const uint8_t> data_;
    size_t pos_ = 0;
};

class FileSource : public Source {
  public:
    FileSource(std::FILE* f, const std::string& name) : f_(f), name_(name) {}
    size_t read(uint8_t* dst, size_t n) override {
        size_t k = std::fread(dst, 1, n, f_);
        if (k < n && std::ferror(f_))
            fail(name_, fmt::format("read error: {}", std::strerror(errno)));
        return k;
    }
    uint64_t max_remaining() const override {
        // The size now (a file that grows later only makes the array reallocate).
        struct stat sb {};
        const off_t pos = ftello(f_);
        if (pos < 0 || ::fstat(::fileno(f_), &sb) != 0 || !S_ISREG(sb.st_mode)) return kUnknown;
        return sb.st_size > pos ? static_cast<uint64_t>(sb.st_size - pos) : 0;
    }
    uint64_t count_rest() override {
        // Regular files: ask for the size instead of reading a possibly huge tail.
        off_t pos = ftello(f_);
        if (pos >= 0 && fseeko(f_, 0, SEEK_END) == 0) {
            off_t end = ftello(f_);
            if (end >= pos) return static_cast<uint64_t>(end - pos);
        }
        return Source::count_rest();
    }

  private:
    std::FILE* f_;
    const std::string& name_;
};

// Inflates a gzip stream (one or more concatenated members) read from another source.
class GzipSource : public Source {
  public:
    GzipSource(Source& in, const std::string& name) : in_(in), name_(name), inbuf_(1 << 16) {
        if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK)
            fail(name_, "cannot initialise zlib for gzip decompression");
    }
    ~GzipSource() override { inflateEnd(&zs_); }
    GzipSource(const GzipSource&) = delete;
    GzipSource& operator=(const GzipSource&) = delete;

    uint64_t max_remaining() const override {
        if (done_) return 0;
        const uint64_t compressed = saturating_add(in_.max_remaining(), zs_.avail_in);
        const uint64_t bound =
            saturating_add(saturating_mul(compressed, kDeflateMaxRatio), kInflateSlackBytes);
        return std::min(bound, kMaxDecompressedBytes - std::min(total_out_, kMaxDecompressedBytes));
    }

    size_t read(uint8_t* dst, size_t n) override {
        size_t got = 0;
        while (got < n && !done_) {
            if (zs_.avail_in == 0 && !in_eof_) refill();
            if (member_ended_) {
                if (zs_.avail_in == 0) {
                    done_ = true;
                    break;
                }
                if (zs_.next_in[0] != 0x1f)
                    fail(name_, "corrupt gzip stream: garbage after the end of the gzip data");
                inflateReset(&zs_);
                member_ended_ = false;
            }
            uInt chunk = static_cast<uInt>(std::min<size_t>(n - got, size_t{1} << 30));
            zs_.next_out = dst + got;
            zs_.avail_out = chunk;
            int rc = inflate(&zs_, Z_NO_FLUSH);
            size_t produced = chunk - zs_.avail_out;
            got += produced;
            total_out_ += produced;
            if (total_out_ > kMaxDecompressedBytes)
                fail(name_, fmt::format("decompressed size exceeds {} bytes, more than any valid "
                                        "IDX file (gzip bomb?)",
                                        kMaxDecompressedBytes));
            if (rc == Z_STREAM_END) {
                member_ended_ = true;
            } else if (rc == Z_BUF_ERROR && zs_.avail_in == 0 && in_eof_) {
                fail(name_, "corrupt gzip stream: compressed data ends early (truncated .gz file)");
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                fail(name_, fmt::format("corrupt gzip stream ({})",
                                        zs_.msg ? zs_.msg : fmt::format("zlib error {}", rc)));
            }
        }
        return got;
    }

  private:
    void refill() {
        size_t k = in_.read(inbuf_.data(), inbuf_.size());
        if (k < inbuf_.size()) in_eof_ = true;
        zs_.next_in = inbuf_.data();
        zs_.avail_in = static_cast<uInt>(k);
    }

    Source& in_;
    const std::string& name_;
    std::vector<uint8_t> inbuf_;
    z_stream zs_{};
    bool in_eof_ = false, member_ended_ = false, done_ = false;
    uint64_t total_out_ = 0;
};

std::string_view type_name(uint8_t type) {
    switch (type) {
        case 0x08:
            return "unsigned byte";
        case 0x09:
            return "signed byte";
        case 0x0B:
            return "int16";
        case 0x0C:
            return "int32";
        case 0x0D:
            return "float32";
        case 0x0E:
            return "float64";
        default:
            return "unknown type";
    }
}

std::string megabytes(uint64_t bytes) {
    return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}

bool is_gzip(std::span<const uint8_t> head) {
    return head.size() >= 2 && head[0] == 0x1f && head[1] == 0x8b;
}

// The format proper: header, then exactly product(dims) bytes, nothing after.
IdxArray read_from(Source& src, const std::string& name, bool gzipped) {
    const std::string_view what = gzipped ? "decompressed data" : "file";

    std::array<uint8_t, kMaxHeaderBytes> hdr{};
    size_t got = src.read(hdr.data(), 4);
    if (got == 0) fail(name, fmt::format("{} is empty (expected an IDX header)", what));
    if (got < 4)
        fail(name, fmt::format("truncated header: {} has {} bytes, an IDX header needs at least 4",
                               what, got));
    const uint32_t magic =
        uint32_t{hdr[0]} << 24 | uint32_t{hdr[1]} << 16 | uint32_t{hdr[2]} << 8 | uint32_t{hdr[3]};
    if (hdr[0] != 0 || hdr[1] != 0)
        fail(name, fmt::format("bad magic number 0x{:08x} (expected 0x0000080N: two zero bytes, "
                               "type byte, dimension count)",
                               magic));
    if (hdr[2] != 0x08)
        fail(name, fmt::format("element type 0x{:02x} ({}) is not supported (expected 0x08: "
                               "unsigned byte)",
                               hdr[2], type_name(hdr[2])));
    const size_t ndims = hdr[3];
    if (ndims == 0 || ndims > 4)
        fail(name, fmt::format("dimension count {} is invalid (expected 1 to 4)", ndims));

    const size_t header_bytes = 4 + 4 * ndims;
    got = 4 + src.read(hdr.data() + 4, header_bytes - 4);
    if (got < header_bytes)
        fail(name, fmt::format("truncated header: {} dimensions need {} header bytes, {} has {}",
                               ndims, header_bytes, what, got));

    IdxArray out;
    int64_t count = 1;
    bool overflow = false;
    for (size_t i = 0; i < ndims; ++i) {
        const uint8_t* p = hdr.data() + 4 + 4 * i;
        const int64_t d = int64_t{p[0]} << 24 | int64_t{p[1]} << 16 | int64_t{p[2]} << 8 | p[3];
        if (d == 0) fail(name, fmt::format("dimension {} is 0 (expected at least 1)", i));
        out.dims.push_back(d);
        overflow = overflow || __builtin_mul_overflow(count, d, &count);
    }
    if (overflow)
        fail(name, fmt::format("product of dimensions [{}] overflows a 64-bit integer",
                               fmt::join(out.dims, ", ")));
    // Both limits are checked here, before any data is read, inflated or allocated.
    if (count > kIdxMaxDataBytes)
        fail(name, fmt::format("dimensions [{}] declare {} bytes of data, more than the limit of "
                               "{} bytes",
                               fmt::join(out.dims, ", "), count, kIdxMaxDataBytes));
    if (static_cast<uint64_t>(count) > kMemoryCheckMinBytes) {
        const std::optional<AvailableMemory> avail = available_memory();
        if (avail && static_cast<uint64_t>(count) > avail->bytes / 2)
            fail(name, fmt::format("dimensions [{}] declare {} bytes of data ({}), more than half "
                                   "of the {} of memory available to this process ({}; expected "
                                   "data that fits in memory)",
                                   fmt::join(out.dims, ", "), count, megabytes(count),
                                   megabytes(avail->bytes), avail->source));
    }

    // Reserved once: the declared size, or what the input can still hold if that is less (a
    // header that lies). Pages become resident only as data is written into them, step by step,
    // so memory grows with the data present; the array is never reallocated.
    const auto expected = static_cast<size_t>(count);
    const auto capacity = static_cast<size_t>(std::min<uint64_t>(expected, src.max_remaining()));
    try {
        out.bytes.reserve(capacity);
    } catch (const std::bad_alloc&) {
        fail(name, fmt::format("cannot allocate {} bytes ({}) for the data that dimensions [{}] "
                               "declare (expected enough free memory)",
                               capacity, megabytes(capacity), fmt::join(out.dims, ", ")));
    }
    while (out.bytes.size() < expected) {
        const size_t old = out.bytes.size();
        if (old == out.bytes.capacity()) {
            // The input produced all it said it could hold, so it should end here (truncated).
            // If it does not (a file that grew while being read), grow the array after all.
            uint8_t next = 0;
            if (src.read(&next, 1) == 0)
                fail(name, fmt::format("truncated: header declares {} bytes of data, {} has {}",
                                       expected, what, old));
            out.bytes.push_back(next);
            continue;
        }
        const size_t step = std::min({expected - old, kReadStep, out.bytes.capacity() - old});
        out.bytes.resize(old + step);
        const size_t k = src.read(out.bytes.data() + old, step);
        if (k < step)
            fail(name, fmt::format("truncated: header declares {} bytes of data, {} has {}",
                                   expected, what, old + k));
    }
    const uint64_t extra = src.count_rest();
    if (extra > 0)
        fail(name, fmt::format("trailing garbage: header declares {} bytes of data, {} has {} "
                               "extra bytes after them",
                               expected, what, extra));
    return out;
}

}  // namespace

IdxArray parse_idx(std::span<const uint8_t> content, const std::string& name_for_errors) {
    MemorySource mem(content);
    if (!is_gzip(content)) return read_from(mem, name_for_errors, false);
    GzipSource gz(mem, name_for_errors);
    return read_from(gz, name_for_errors, true);
}

IdxArray read_idx(const std::string& path) {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (st.type() == fs::file_type::not_found) fail(path, "file not found");
    if (ec) fail(path, fmt::format("cannot access file: {}", ec.message()));
    if (fs::is_directory(st)) fail(path, "is a directory (expected an IDX file)");
    // Devices and pipes could stream forever; IDX data always lives in regular files.
    if (!fs::is_regular_file(st)) fail(path, "is not a regular file (expected an IDX file)");

    io::FilePtr f(std::fopen(path.c_str(), "rb"));
    if (!f) fail(path, fmt::format("cannot open file: {}", std::strerror(errno)));
    FileSource file(f.get(), path);

    std::array<uint8_t, 2> head{};
    const size_t k = file.read(head.data(), head.size());
    if (std::fseek(f.get(), 0, SEEK_SET) != 0)
        fail(path, fmt::format("cannot seek: {}", std::strerror(errno)));
    if (!is_gzip(std::span(head.data(), k))) return read_from(file, path, false);
    GzipSource gz(file, path);
    return read_from(gz, path, true);
}

Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path) {
    IdxArray images = read_idx(images_path);
    if (images.dims.size() != 3)
        fail(images_path,
             fmt::format("images file has {} dimensions [{}] (expected 3: count, rows, cols)",
                         images.dims.size(), fmt::join(images.dims, ", ")));
    IdxArray labels = read_idx(labels_path);
    if (labels.dims.size() != 1)
        fail(labels_path, fmt::format("labels file has {} dimensions [{}] (expected 1: count)",
                                      labels.dims.size(), fmt::join(labels.dims, ", ")));
    if (images.dims[0] != labels.dims[0])
        fail(images_path,
             fmt::format("images file has {} images but labels file has {} labels ({})",
                         images.dims[0], labels.dims[0], labels_path));
    for (size_t i = 0; i < labels.bytes.size(); ++i)
        if (labels.bytes[i] > 9)
            fail(labels_path,
                 fmt::format("label {} at index {} is outside 0..9", labels.bytes[i], i));

    Dataset ds;
    ds.count = images.dims[0];
    ds.rows = images.dims[1];
    ds.cols = images.dims[2];
    ds.images = std::move(images.bytes);
    ds.labels = std::move(labels.bytes);
    return ds;
}

Dataset load_mnist_split(const std::string& dir, bool train) {
    constexpr std::string_view kExpected =
        "expected a folder holding the four MNIST-format IDX files";
    std::error_code ec;
    const fs::file_status st = fs::status(dir, ec);
    if (st.type() == fs::file_type::not_found)
        fail(dir, "MNIST directory not found (run data/fetch_mnist.sh to download it)");
    if (ec.value() == ELOOP) fail(dir, "symbolic link loop (too many levels of symbolic links)");
    if (ec.value() == EACCES)
        fail(dir, fmt::format("cannot open the MNIST folder: {} ({} that this user may open)",
                              std::strerror(EACCES), kExpected));
    if (ec)
        fail(dir, fmt::format("cannot access the MNIST folder: {} ({})", ec.message(), kExpected));
    if (fs::is_regular_file(st)) fail(dir, fmt::format("is a regular file ({})", kExpected));
    if (!fs::is_directory(st)) fail(dir, fmt::format("is not a folder ({})", kExpected));

    const std::string prefix = train ? "train" : "t10k";
    auto find = [&](const std::string& base) {
        for (const std::string& name : {base, base + ".gz"}) {
            const std::string p = (fs::path(dir) / name).string();
            const fs::file_status fst = fs::status(p, ec);
            if (fst.type() == fs::file_type::not_found) continue;
            if (ec.value() == ELOOP)
                fail(p, "symbolic link loop (too many levels of symbolic links)");
            if (ec.value() == EACCES)
                fail(p, fmt::format("cannot open the MNIST file: {} (expected a folder and files "
                                    "that this user may open)",
                                    std::strerror(EACCES)));
            if (ec) fail(p, fmt::format("cannot access the MNIST file: {}", ec.message()));
            return p;
        }
        fail(dir, fmt::format("missing {} (or {}.gz) in this directory (run data/fetch_mnist.sh "
                              "to download MNIST)",
                              base, base));
    };
    const std::string images = find(prefix + "-images-idx3-ubyte");
    const std::string labels = find(prefix + "-labels-idx1-ubyte");
    return load_idx_pair(images, labels);
}

}  // namespace normgrad
