// Reading MNIST-format IDX files (unsigned-byte element type only), raw or gzip-compressed.
//
// Memory: the size the header declares is checked as soon as the header is read, before any data
// is read, inflated or allocated: it must be at most kIdxMaxDataBytes and (for sizes over 16 MiB)
// at most half of the memory available to the process. The array is then reserved once (never
// reallocated, so a large file is never held twice) and filled as data arrives, so the memory used
// grows with the data actually present, peaks at the declared size plus a small constant, and a
// header that lies about its size costs no more than the data that is there.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace normgrad {

// Thrown for any data file that is missing, unreadable or malformed. The message always
// starts with the file (or directory) path, then says what is wrong and what was expected.
class DataError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Largest data section accepted: 2^30 bytes (1 GiB; MNIST's largest file holds 47 MB, EMNIST's
// about 550 MB). Also bounds gzip decompression.
inline constexpr int64_t kIdxMaxDataBytes = int64_t{1} << 30;

struct IdxArray {
    std::vector<int64_t> dims;   // 1 to 4 dimensions, each >= 1
    std::vector<uint8_t> bytes;  // product(dims) bytes, row-major
};

// Reads and fully validates one IDX file; gzip is detected by its magic bytes 0x1f 0x8b.
IdxArray read_idx(const std::string& path);

// Same validation on a file's content in memory (raw or gzip); errors name `name_for_errors`.
IdxArray parse_idx(std::span<const uint8_t> content, const std::string& name_for_errors);

struct Dataset {
    int64_t count = 0, rows = 0, cols = 0;
    std::vector<uint8_t> images;  // count * rows * cols bytes, row-major
    std::vector<uint8_t> labels;  // count bytes, each in 0..9
};

// Images file: 3 dimensions (count, rows, cols); labels file: 1 dimension; counts must agree.
Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path);

// Loads the train ("train-*") or test ("t10k-*") pair from `dir`, each file either raw or
// with ".gz" appended (raw preferred). A `dir` that is missing, a regular file, a symbolic link
// loop or not accessible, and a file in it that is a symbolic link loop or not accessible, each
// get their own one-line error.
Dataset load_mnist_split(const std::string& dir, bool train);

}  // namespace normgrad
