#include "normgrad/gradcheck.hpp"

#include <fmt/format.h>

#include <cmath>

#include "normgrad/autograd.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "normgrad/ops/reduce.hpp"

namespace normgrad {

namespace {

double weighted_sum(const Tensor& y, const std::vector<double>& r) {
    double s = 0.0;
    const float* p = y.data();
    for (int64_t i = 0; i < y.numel(); ++i) s += r[static_cast<size_t>(i)] * p[i];
    return s;
}

}  // namespace

GradCheckResult gradcheck(const std::function<Tensor()>& f, const std::vector<Tensor>& wrt,
                          const GradCheckOptions& opt) {
    GradCheckResult result;
    std::vector<Tensor> params = wrt;
    for (Tensor& t : params) {
        t.set_requires_grad(true);
        t.zero_grad();
    }

    // Analytic gradients from the tape.
    Tensor y = f();
    Rng rng(opt.seed);
    std::vector<double> r(static_cast<size_t>(y.numel()));
    std::vector<float> rf(r.size());
    for (size_t i = 0; i < r.size(); ++i) {
        rf[i] = static_cast<float>(rng.uniform(0.5, 1.5) * (rng.uniform() < 0.5 ? -1.0 : 1.0));
        r[i] = rf[i];  // the same float the tape multiplies by
    }
    if (!y.requires_grad()) {
        result.ok = false;
        result.report = "the function's output does not depend on any checked tensor\n";
        autograd::release_tape();
        return result;
    }
    Tensor loss = sum(mul(y, Tensor::from(y.shape(), rf)));
    autograd::backward(loss);

    autograd::NoGradGuard no_grad;
    for (size_t t = 0; t < params.size(); ++t) {
        const Tensor& p = params[t];
        const std::string name = p.name().empty() ? fmt::format("input {}", t) : p.name();
        const std::vector<float> analytic = p.grad_vector();
        float* v = p.data();
        double worst = -1.0, worst_a = 0, worst_n = 0;
        int64_t worst_i = 0, failures = 0;
        bool all_zero = true;
        for (int64_t i = 0; i < p.numel(); ++i) {
            const float saved = v[i];
            v[i] = static_cast<float>(saved + opt.step);
            const double up = weighted_sum(f(), r);
            v[i] = static_cast<float>(saved - opt.step);
            const double down = weighted_sum(f(), r);
            v[i] = saved;
            // Divide by the step actually taken, after float rounding of saved +- h.
            const double h2 = static_cast<double>(static_cast<float>(saved + opt.step)) -
                              static_cast<double>(static_cast<float>(saved - opt.step));
            const double numeric = (up - down) / h2;
            const double a = analytic[static_cast<size_t>(i)];
            const double err = std::abs(a - numeric);
            if (a != 0.0 || std::abs(numeric) > opt.atol) all_zero = false;
            if (err > opt.atol + opt.rtol * std::abs(numeric)) ++failures;
            if (err > worst) {
                worst = err;
                worst_i = i;
                worst_a = a;
                worst_n = numeric;
            }
            result.max_abs_error = std::max(result.max_abs_error, err);
            ++result.elements_checked;
        }
        result.report += fmt::format(
            "{} {}: worst element {} analytic {:.6g} numeric {:.6g} (error {:.3g}), {} of {} "
            "outside tolerance\n",
            name, p.shape().str(), worst_i, worst_a, worst_n, worst, failures, p.numel());
        if (failures > 0) result.ok = false;
        if (all_zero && p.numel() > 0) {
            result.ok = false;
            result.report += fmt::format(
                "{}: analytic and numeric gradients are all zero, so this check proves nothing\n",
                name);
        }
    }
    return result;
}

}  // namespace normgrad
