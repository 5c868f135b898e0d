// Shape of a tensor: up to four dimensions (N, C, H, W), row-major.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace normgrad {

// Thrown when an operation is given tensors whose shapes do not fit together.
// The message always names the operation and the shapes involved.
class ShapeError : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

class Shape {
  public:
    static constexpr int kMaxRank = 4;

    Shape() = default;  // rank 0: a scalar with one element
    Shape(std::initializer_list<int64_t> dims);
    explicit Shape(const std::vector<int64_t>& dims);

    int rank() const { return rank_; }
    int64_t operator[](int i) const { return dims_[static_cast<size_t>(i)]; }
    int64_t numel() const;
    std::vector<int64_t> dims() const { return {dims_.begin(), dims_.begin() + rank_}; }
    std::string str() const;  // "[2, 3, 4]"

    bool operator==(const Shape& other) const;
    bool operator!=(const Shape& other) const { return !(*this == other); }

  private:
    std::array<int64_t, kMaxRank> dims_{};
    int rank_ = 0;
};

// Throws ShapeError("<op>: <what>").
[[noreturn]] void shape_error(std::string_view op, const std::string& what);

}  // namespace normgrad
