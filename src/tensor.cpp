#include "normgrad/tensor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace normgrad {

Tensor Tensor::empty(const Shape& shape) {
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = shape;
    impl->data = Storage::make(static_cast<size_t>(shape.numel()));
    return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape) {
    return full(shape, 0.f);
}
Tensor Tensor::ones(const Shape& shape) {
    return full(shape, 1.f);
}

Tensor Tensor::full(const Shape& shape, float value) {
    Tensor t = empty(shape);
    std::fill_n(t.data(), t.numel(), value);
    return t;
}

Tensor Tensor::from(const Shape& shape, std::span<const float> values) {
    if (static_cast<int64_t>(values.size()) != shape.numel())
        shape_error("Tensor::from", fmt::format("shape {} holds {} values but {} were given",
                                                shape.str(), shape.numel(), values.size()));
    Tensor t = empty(shape);
    std::copy(values.begin(), values.end(), t.data());
    return t;
}

Tensor Tensor::randn(const Shape& shape, Rng& rng, float mean, float std) {
    Tensor t = empty(shape);
    float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = mean + std * static_cast<float>(rng.normal());
    return t;
}

Tensor Tensor::uniform(const Shape& shape, Rng& rng, float lo, float hi) {
    Tensor t = empty(shape);
    float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(rng.uniform(lo, hi));
    return t;
}

TensorImpl& Tensor::impl() const {
    if (!impl_) throw std::logic_error("normgrad: use of an undefined Tensor");
    return *impl_;
}

int64_t Tensor::dim(int i) const {
    int r = rank();
    int j = i < 0 ? i + r : i;
    if (j < 0 || j >= r)
        throw ShapeError(
            fmt::format("Tensor::dim: index {} is out of range for shape {}", i, shape().str()));
    return shape()[j];
}

std::vector<float> Tensor::to_vector() const {
    return {data(), data() + numel()};
}

float Tensor::item() const {
    if (numel() != 1)
        shape_error("Tensor::item", fmt::format("needs one element, shape is {}", shape().str()));
    return data()[0];
}

float* Tensor::mutable_grad() const {
    TensorImpl& t = impl();
    if (!t.grad) t.grad = Storage::zeros(static_cast<size_t>(t.shape.numel()));
    return t.grad->data();
}

std::vector<float> Tensor::grad_vector() const {
    if (!has_grad()) return std::vector<float>(static_cast<size_t>(numel()), 0.f);
    return {grad(), grad() + numel()};
}

void Tensor::zero_grad() const {
    impl().grad.reset();
}

Tensor& Tensor::set_requires_grad(bool on) {
    impl().requires_grad = on;
    return *this;
}

Tensor& Tensor::retain_grad() {
    impl().retain_grad = true;
    return *this;
}

Tensor& Tensor::set_name(std::string name) {
    impl().name = std::move(name);
    return *this;
}

Tensor Tensor::detach() const {
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = shape();
    impl->data = this->impl().data;
    return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
    Tensor t = empty(shape());
    std::memcpy(t.data(), data(), static_cast<size_t>(numel()) * sizeof(float));
    return t;
}

void Tensor::copy_from(const Tensor& src) const {
    if (src.numel() != numel())
        shape_error("Tensor::copy_from", fmt::format("destination shape {} but source shape {}",
                                                     shape().str(), src.shape().str()));
    std::memmove(data(), src.data(), static_cast<size_t>(numel()) * sizeof(float));
}

Tensor Tensor::view_of(const Tensor& base, const Shape& shape) {
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = shape;
    impl->data = base.impl().data;
    return Tensor(std::move(impl));
}

}  // namespace normgrad
