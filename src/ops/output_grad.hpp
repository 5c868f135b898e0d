// Input gradients written over the output's, for elementwise backward functions.
//
// The engine frees an operation's output gradient right after its backward function ran, unless
// it is retained; during that function autograd::output_grad_reusable(out) says so. A backward
// whose dx[i] depends on dy[i] and other values at i alone may then let the input take over dy's
// buffer and write dx over it. (The helpers live here rather than beside grad_buffer() because
// they ask the tape, which the kernels' level below it does not know.)
#pragma once

#include "kernels/grad_buffer.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/tensor.hpp"

namespace normgrad {

// In the backward function of the record whose output is `out`: when `in` has no gradient yet,
// has as many elements as `out`, and out's gradient may be overwritten
// (autograd::output_grad_reusable), `in` takes over out's gradient buffer and this returns true.
// Where dx = dy (reshape, the first input of add), that is the whole backward: no copy.
inline bool take_output_grad(const Tensor& in, const Tensor& out) {
    TensorImpl& impl = in.impl();
    if (impl.grad || in.numel() != out.numel() || !autograd::output_grad_reusable(out))
        return false;
    impl.grad = out.impl().grad;
    return true;
}

// grad_buffer(in) for a backward that computes each dx[i] from dy[i] and other values at i alone
// (ReLU, BatchNorm's dx once its sums are taken), with dx written over dy where
// take_output_grad allows. Reading dy[i] and then writing dx[i] in the same place is safe for
// such a loop; a fresh buffer would cost memory and the cache misses of writing where nothing
// was read before.
inline GradBuffer grad_buffer_over(const Tensor& in, const Tensor& out) {
    if (take_output_grad(in, out)) return {in.impl().grad->data(), false};
    return grad_buffer(in);
}

}  // namespace normgrad
