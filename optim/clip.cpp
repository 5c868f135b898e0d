// Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_ (norm_type 2).
#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "normgrad/norms.hpp"
#include "normgrad/optim.hpp"

namespace normgrad {

double global_grad_norm(const std::vector<Parameter>& params) {
    // norm = sqrt(sum over all parameters and elements of g^2), each parameter's sum from
    // sum_of_squares (float blocks added in double), the parameters' sums added in double.
    double sum = 0.0;
    for (const Parameter& param : params) {
        const float* g = param.tensor.grad();
        if (g == nullptr) continue;
        sum += sum_of_squares(g, param.tensor.numel());
    }
    return std::sqrt(sum);
}

double clip_grad_norm(const std::vector<Parameter>& params, double max_norm) {
    if (!(max_norm >= 0.0))
        throw std::invalid_argument(
            fmt::format("clip_grad_norm: max_norm must be >= 0 (got {})", max_norm));
    const double norm = global_grad_norm(params);
    // coef = max_norm / (norm + 1e-6); the gradients are scaled only when coef < 1.
    // (A non-finite norm gives coef 0 or NaN, as in PyTorch: the gradients are then useless.)
    const double coef = max_norm / (norm + 1e-6);
    if (coef >= 1.0) return norm;
    const auto c = static_cast<float>(coef);
    for (const Parameter& param : params) {
        if (!param.tensor.has_grad()) continue;
        float* g = param.tensor.grad();
        const int64_t n = param.tensor.numel();
        for (int64_t i = 0; i < n; ++i) g[i] *= c;  // g <- g * coef
    }
    return norm;
}

}  // namespace normgrad
