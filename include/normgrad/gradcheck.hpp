// Finite-difference gradient checking for any operation, layer or model.
//
// The checker turns the function's output y into a scalar L = sum_i r_i y_i with fixed random
// weights r (so that every output element counts, each differently: a gradient with two entries
// swapped, a wrong sign or a factor of two cannot pass), computes dL/dt for every tensor t in
// `wrt` with the tape, and compares each element with the central difference
//     (L(t_k + h) - L(t_k - h)) / (2h),
// where the L values are summed in double so float32 rounding stays far below the tolerance.
// A tensor whose analytic and numeric gradients are both all zero fails the check: such a test
// could not catch anything.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "normgrad/tensor.hpp"

namespace normgrad {

struct GradCheckOptions {
    double step = 1e-2;  // h
    double rtol = 1e-2;  // |analytic - numeric| <= atol + rtol * |numeric|
    double atol = 1e-3;
    uint64_t seed = 1234;  // for the weights r
};

struct GradCheckResult {
    bool ok = true;
    std::string report;  // the worst element per tensor, and every failure reason
    double max_abs_error = 0.0;
    int64_t elements_checked = 0;
};

// `f` must be deterministic and read the current values of the tensors in `wrt` (it is called
// once with the tape on and 2 * (number of elements) times under NoGradGuard). Every tensor in
// `wrt` is marked requires_grad; names come from Tensor::name() or the position in `wrt`.
GradCheckResult gradcheck(const std::function<Tensor()>& f, const std::vector<Tensor>& wrt,
                          const GradCheckOptions& options = {});

}  // namespace normgrad
