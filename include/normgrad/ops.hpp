// Differentiable operations. Each one computes its forward result and, when an input needs a
// gradient, records its backward function on the tape (see autograd.hpp). The backward math of
// every operation is written out in a comment beside its code in src/ops/.
//
// Shape conventions follow PyTorch: dense weights are [out, in], images are [N, C, H, W],
// convolution weights are [out_channels, in_channels, kH, kW].
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "normgrad/tensor.hpp"

namespace normgrad {

// --- linear algebra (src/ops/matmul.cpp) ---
Tensor matmul(const Tensor& a, const Tensor& b);  // [M, K] x [K, N] -> [M, N]
// y = x w^T + b: x [N, in], w [out, in], b [out] (may be undefined)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = {});

// --- elementwise (src/ops/elementwise.cpp) ---
Tensor add(const Tensor& a, const Tensor& b);  // same shapes
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, float factor);  // factor * x
// x + b with b [C] broadcast along dimension 1 of x ([N, C] or [N, C, H, W]).
Tensor add_bias(const Tensor& x, const Tensor& b);

// --- activations (src/ops/activations.cpp) ---
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, float negative_slope);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);

// --- shape (src/ops/reshape.cpp) ---
Tensor reshape(const Tensor& x, const Shape& shape);  // same number of elements
Tensor flatten(const Tensor& x);                      // [N, ...] -> [N, rest]

// --- reductions (src/ops/reduce.cpp) --- (results are scalars, rank 0)
Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);

// --- convolution and pooling (src/ops/conv2d.cpp, src/ops/max_pool2d.cpp) ---
// How conv2d computes (all give the same result up to float rounding):
//   Im2col:   one matrix product per image over its receptive fields (any kernel, stride, padding)
//   Winograd: F(2x2, 3x3), 2.25x fewer multiplications (3x3 kernels with stride 1 only)
//   Auto:     Winograd where it applies and the layer has more than a few input channels
enum class ConvAlgorithm { Auto, Im2col, Winograd };
struct Conv2dParams {
    int stride = 1;
    int padding = 0;
    ConvAlgorithm algorithm = ConvAlgorithm::Auto;
};
// x [N, C, H, W], w [O, C, kH, kW], b [O] (may be undefined) -> [N, O, OH, OW]
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dParams p = {});

struct Pool2dParams {
    int kernel = 2;
    int stride = 0;  // 0 means "same as kernel", as in PyTorch
    int padding = 0;
};
Tensor max_pool2d(const Tensor& x, Pool2dParams p = {});

// --- loss (src/ops/cross_entropy.cpp) ---
// Mean over the batch of -log softmax(logits)[label]; logits [N, K], labels in [0, K).
Tensor cross_entropy(const Tensor& logits, std::span<const int32_t> labels);

// --- batch normalisation (src/ops/batch_norm.cpp; plain loops: batch_norm_reference.hpp) ---
// Normalises over N for 2-D input [N, C] and over (N, H, W) per channel for 4-D input [N, C, H, W],
// as PyTorch's F.batch_norm (torch/nn/functional.py):
//  - training, or no running statistics (running_mean and running_var undefined, PyTorch's
//    track_running_stats = False): normalise with this batch's mean and *biased* variance.
//    Throws std::invalid_argument when a channel has a single value (m == 1).
//    In training with running statistics, also update them in place, outside the tape:
//      num_batches_tracked += 1   (when defined; it is required for momentum = std::nullopt)
//      running = (1 - f) * running + f * batch_statistic,  f = momentum, or 1/num_batches_tracked
//    where the running variance takes the *unbiased* batch variance (m / (m - 1) times the biased).
//  - evaluation with running statistics: normalise with them; nothing is updated.
// gamma and beta ([C]) may be undefined (affine = false); running_mean, running_var: [C];
// num_batches_tracked: one value. `stats`, when given, receives the batch statistics whenever
// they are used.
struct BatchStats {
    std::vector<float> mean;  // per channel
    std::vector<float> var;   // biased (divides by m): what normalisation uses
    int64_t count = 0;        // m, the values per channel
};
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                  const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& num_batches_tracked, bool training, std::optional<float> momentum,
                  float eps, BatchStats* stats = nullptr);

}  // namespace normgrad
