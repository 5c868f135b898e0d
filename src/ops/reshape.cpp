// reshape and flatten: the same numbers seen with another shape (no copy).
#include <fmt/format.h>

#include "kernels/grad_buffer.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/reshape.hpp"

namespace normgrad {

Tensor reshape(const Tensor& x, const Shape& shape) {
    if (shape.numel() != x.numel())
        shape_error("reshape", fmt::format("cannot view {} ({} values) as {} ({} values)",
                                           x.shape().str(), x.numel(), shape.str(), shape.numel()));
    Tensor y = Tensor::view_of(x, shape);
    if (autograd::needs_grad({&x})) {
        // Row-major order is unchanged, so the gradient is dy read with x's shape. When it is the
        // first gradient x receives, x simply takes over dy's buffer (y's gradient is released
        // right after this step unless it is retained, in which case it is copied).
        autograd::record("reshape", {x}, y, [x, y] {
            TensorImpl& xi = x.impl();
            const TensorImpl& yi = y.impl();
            if (!xi.grad && !yi.retain_grad) {
                xi.grad = yi.grad;
                return;
            }
            const float* dy = y.grad();
            write_grad(grad_buffer(x), x.numel(), [=](int64_t i) { return dy[i]; });
        });
    }
    return y;
}

Tensor flatten(const Tensor& x) {
    if (x.rank() < 1) shape_error("flatten", "needs at least one dimension, got a scalar");
    const int64_t N = x.dim(0);
    return reshape(x, Shape{N, N == 0 ? 0 : x.numel() / N});
}

}  // namespace normgrad
