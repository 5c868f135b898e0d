#include "normgrad/shape.hpp"

#include <fmt/format.h>

namespace normgrad {

namespace {
void check_dims(const int64_t* dims, size_t rank) {
    if (rank > static_cast<size_t>(Shape::kMaxRank))
        throw ShapeError(
            fmt::format("Shape: rank {} exceeds the maximum of {}", rank, Shape::kMaxRank));
    for (size_t i = 0; i < rank; ++i)
        if (dims[i] < 0)
            throw ShapeError(fmt::format("Shape: dimension {} is negative ({})", i, dims[i]));
}
}  // namespace

Shape::Shape(std::initializer_list<int64_t> dims) {
    check_dims(dims.begin(), dims.size());
    rank_ = static_cast<int>(dims.size());
    std::copy(dims.begin(), dims.end(), dims_.begin());
}

Shape::Shape(const std::vector<int64_t>& dims) {
    check_dims(dims.data(), dims.size());
    rank_ = static_cast<int>(dims.size());
    std::copy(dims.begin(), dims.end(), dims_.begin());
}

int64_t Shape::numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<size_t>(i)];
    return n;
}

std::string Shape::str() const {
    std::string s = "[";
    for (int i = 0; i < rank_; ++i) {
        if (i) s += ", ";
        s += std::to_string(dims_[static_cast<size_t>(i)]);
    }
    return s + "]";
}

bool Shape::operator==(const Shape& other) const {
    if (rank_ != other.rank_) return false;
    for (int i = 0; i < rank_; ++i)
        if (dims_[static_cast<size_t>(i)] != other.dims_[static_cast<size_t>(i)]) return false;
    return true;
}

void shape_error(std::string_view op, const std::string& what) {
    throw ShapeError(fmt::format("{}: {}", op, what));
}

}  // namespace normgrad
