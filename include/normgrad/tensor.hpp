// Tensor: a float32, contiguous, row-major array of rank 0 to 4, plus its gradient.
//
// A Tensor is a cheap handle (a shared pointer) to its data, like a Python object reference:
// copying a Tensor copies the handle, not the numbers. Operations in ops.hpp create new tensors
// and, when gradients are wanted, record themselves on the tape (autograd.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "normgrad/random.hpp"
#include "normgrad/shape.hpp"
#include "normgrad/storage.hpp"

namespace normgrad {

struct TensorImpl {
    Shape shape;
    std::shared_ptr<Storage> data;
    std::shared_ptr<Storage> grad;  // null until a gradient first arrives
    bool requires_grad = false;
    bool is_leaf = true;           // false for tensors produced by a recorded operation
    bool retain_grad = false;      // keep a non-leaf tensor's gradient after backward
    uint64_t tape_generation = 0;  // which tape recorded the producing operation (0: none)
    size_t tape_index = 0;         // position of that record on the tape
    std::string name;
};

class Tensor {
  public:
    Tensor() = default;  // an undefined tensor (used for "no bias", "no gamma")

    // Creation. `empty` leaves the values uninitialised.
    static Tensor empty(const Shape& shape);
    static Tensor zeros(const Shape& shape);
    static Tensor ones(const Shape& shape);
    static Tensor full(const Shape& shape, float value);
    static Tensor from(const Shape& shape, std::span<const float> values);
    static Tensor scalar(float value) { return full(Shape{}, value); }
    static Tensor randn(const Shape& shape, Rng& rng, float mean = 0.f, float std = 1.f);
    static Tensor uniform(const Shape& shape, Rng& rng, float lo, float hi);

    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const { return impl().shape; }
    int rank() const { return impl().shape.rank(); }
    int64_t dim(int i) const;  // i may be negative, counting from the end
    int64_t numel() const { return impl().shape.numel(); }

    float* data() const { return impl().data->data(); }
    std::vector<float> to_vector() const;
    float item() const;  // the value of a one-element tensor

    // Gradient access. grad() is null until a gradient has arrived.
    bool has_grad() const { return impl().grad != nullptr; }
    float* grad() const { return has_grad() ? impl().grad->data() : nullptr; }
    // The gradient buffer, created as zeros on first use. Backward functions accumulate into it.
    float* mutable_grad() const;
    std::vector<float> grad_vector() const;  // zeros when no gradient has arrived
    void zero_grad() const;                  // forget the gradient (as PyTorch's set_to_none)
    void release_grad() const { impl().grad.reset(); }

    bool requires_grad() const { return defined() && impl().requires_grad; }
    Tensor& set_requires_grad(bool on = true);
    bool is_leaf() const { return impl().is_leaf; }
    Tensor& retain_grad();

    const std::string& name() const { return impl().name; }
    Tensor& set_name(std::string name);

    // A tensor sharing this one's values but outside the tape (no gradient flows through it).
    Tensor detach() const;
    // A tensor with its own copy of the values, outside the tape.
    Tensor clone() const;
    // Overwrites the values with those of `src` (same number of elements), outside the tape.
    void copy_from(const Tensor& src) const;

    TensorImpl& impl() const;
    const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
    bool same_as(const Tensor& other) const { return impl_ == other.impl_; }

    // Shares `storage` (used by reshape); the caller guarantees the sizes agree.
    static Tensor view_of(const Tensor& base, const Shape& shape);

  private:
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<TensorImpl> impl_;
};

}  // namespace normgrad
