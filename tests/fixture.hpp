// Reader for the reference-value fixtures in tests/fixtures/ (written by tests/reference/*.py).
//
// Format (text, one file per topic):
//   - lines starting with '#' are comments; blank lines are ignored;
//   - each tensor is two lines:
//         tensor <name> <rank> <d0> <d1> ...
//         <all values, row-major, space separated; printed with %.9g, exact for float32>
//     A scalar has rank 0 and one value.
//
// Independent of the normgrad library, so it can be compiled on its own.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace normgrad::testing {

struct FixtureTensor {
    std::vector<int64_t> dims;  // empty for a scalar
    std::vector<float> values;  // row-major; product(dims) values (one for a scalar)
};

class Fixture {
  public:
    // Reads NORMGRAD_FIXTURE_DIR/<file_name_in_fixture_dir>. Throws std::runtime_error naming the
    // file and line when the file cannot be read or its content is malformed.
    explicit Fixture(const std::string& file_name_in_fixture_dir);

    // Throws std::runtime_error naming the file when `name` is absent.
    const FixtureTensor& get(const std::string& name) const;
    bool has(const std::string& name) const;

    const std::string& path() const { return path_; }
    std::vector<std::string> names() const;  // sorted

    // Parses `path` directly (any location). The constructor above calls this.
    static Fixture load_path(const std::string& path);

  private:
    Fixture() = default;
    void parse(const std::string& path);

    std::string path_;
    std::map<std::string, FixtureTensor> tensors_;
};

// Element-wise comparison: |a - b| <= rtol * max(1, |b|), b the expected value.
struct CloseResult {
    bool ok = true;
    std::string report;  // empty when ok; otherwise sizes or the worst element and its index
};
CloseResult compare_close(const std::vector<float>& actual, const std::vector<float>& expected,
                          double rtol = 1e-5);

}  // namespace normgrad::testing
