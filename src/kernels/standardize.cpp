// Row passes of standardize, in the three builds of kernels/isa.hpp.
#include "kernels/standardize.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "kernels/isa.hpp"
#include "kernels/parallel.hpp"

namespace normgrad::kernels::standardize {

namespace {

// A row's mean and 1 / sqrt(var + eps): two passes over its K values, the second while they are
// in cache, the sums in double (two passes, so no cancellation of E[x^2] - E[x]^2).
struct RowMoments {
    float mean, invstd;
};
NORMGRAD_INLINE RowMoments row_moments(const float* xr, int64_t K, float eps) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t d = 0; d < K; ++d) s += xr[d];
    const double mean = s / double(K);
    double m2 = 0.0;
#pragma omp simd reduction(+ : m2)
    for (int64_t d = 0; d < K; ++d) {
        const double e = xr[d] - mean;
        m2 += e * e;
    }
    return {static_cast<float>(mean),
            static_cast<float>(1.0 / std::sqrt(m2 / double(K) + double(eps)))};
}

// Rows [lo, hi): the row's moments, then y in a third pass.
NORMGRAD_INLINE void forward_rows_body(const float* x, int64_t lo, int64_t hi, int64_t K, float eps,
                                       float* y, float* invstd) {
    for (int64_t r = lo; r < hi; ++r) {
        const float* xr = x + r * K;
        float* yr = y + r * K;
        // (Not a structured binding: clang 14 does not let an OpenMP loop use one.)
        const RowMoments m = row_moments(xr, K, eps);
        const float mu = m.mean, is = m.invstd;
        invstd[r] = is;
#pragma omp simd
        for (int64_t d = 0; d < K; ++d) yr[d] = (xr[d] - mu) * is;
    }
}
NORMGRAD_KERNEL(void, forward_rows,
                (const float* x, int64_t lo, int64_t hi, int64_t K, float eps, float* y,
                 float* invstd),
                forward_rows_body, (x, lo, hi, K, eps, y, invstd))

// Rows [lo, hi): the two sums in one pass, then dx in a second.
NORMGRAD_INLINE void backward_rows_body(const float* y, const float* g, const float* invstd,
                                        int64_t lo, int64_t hi, int64_t K, float* dx,
                                        bool accumulate) {
    for (int64_t r = lo; r < hi; ++r) {
        const float *yr = y + r * K, *gr = g + r * K;
        float* d = dx + r * K;
        double sg = 0.0, sgy = 0.0;
#pragma omp simd reduction(+ : sg, sgy)
        for (int64_t k = 0; k < K; ++k) {
            sg += gr[k];
            sgy += double(gr[k]) * yr[k];
        }
        const auto a = static_cast<float>(sg / double(K)), b = static_cast<float>(sgy / double(K));
        const float is = invstd[r];
        if (accumulate) {
#pragma omp simd
            for (int64_t k = 0; k < K; ++k) d[k] += is * (gr[k] - a - yr[k] * b);
        } else {
#pragma omp simd
            for (int64_t k = 0; k < K; ++k) d[k] = is * (gr[k] - a - yr[k] * b);
        }
    }
}
NORMGRAD_KERNEL(void, backward_rows,
                (const float* y, const float* g, const float* invstd, int64_t lo, int64_t hi,
                 int64_t K, float* dx, bool accumulate),
                backward_rows_body, (y, g, invstd, lo, hi, K, dx, accumulate))

// f(lo, hi) over [0, rows), split between the threads by whole rows when the work is large.
template <class F>
void over_rows(int64_t rows, int64_t K, F f) {
    for_ranges(rows, K, 1, f);
}

// ---- With the affine step (standardize_affine) ----
// A row of K values holds J = K / R runs of R values, run j sharing w[j] and b[j] (w and b here
// already the row's own J values: LayerNorm R = 1, GroupNorm R = H W).

// Rows [lo, hi): the row's moments, then y = xhat w + b in the third pass, xhat never stored.
NORMGRAD_INLINE void forward_affine_rows_body(const float* x, const float* w, const float* b,
                                              int64_t lo, int64_t hi, const AffineRows& a,
                                              float eps, float* y, float* mean, float* invstd) {
    for (int64_t r = lo; r < hi; ++r) {
        const float* xr = x + r * a.K;
        float* yr = y + r * a.K;
        const RowMoments m = row_moments(xr, a.K, eps);
        const float mu = m.mean, is = m.invstd;
        mean[r] = mu;
        invstd[r] = is;
        const float *wr = w + a.first_q(r), *br = b + a.first_q(r);
        if (a.R == 1) {
#pragma omp simd
            for (int64_t k = 0; k < a.K; ++k) yr[k] = ((xr[k] - mu) * is) * wr[k] + br[k];
            continue;
        }
        for (int64_t j = 0; j < a.K / a.R; ++j) {
            const float* xj = xr + j * a.R;
            float* yj = yr + j * a.R;
            const float s = wr[j], t = br[j];
#pragma omp simd
            for (int64_t i = 0; i < a.R; ++i) yj[i] = ((xj[i] - mu) * is) * s + t;
        }
    }
}
NORMGRAD_KERNEL(void, forward_affine_rows,
                (const float* x, const float* w, const float* b, int64_t lo, int64_t hi,
                 const AffineRows& a, float eps, float* y, float* mean, float* invstd),
                forward_affine_rows_body, (x, w, b, lo, hi, a, eps, y, mean, invstd))

// The first pass of a row's backward, over g and x: with Sums, g xhat and g added to the block's
// partial sums pw and pb (the row's own J of them); with Dx, the row's sums of dxhat = g w and of
// dxhat xhat (in double, as standardize's backward takes them) returned in sg and sgy.
template <bool Sums, bool Dx>
NORMGRAD_INLINE void affine_row_sums(const float* xr, const float* gr, const float* wr, float mu,
                                     float is, const AffineRows& a, float* pw, float* pb,
                                     double* sg, double* sgy) {
    double s1 = 0.0, s2 = 0.0;
    if (a.R == 1) {
#pragma omp simd reduction(+ : s1, s2)
        for (int64_t k = 0; k < a.K; ++k) {
            const float xh = (xr[k] - mu) * is, gv = gr[k];
            if (Sums) pw[k] += gv * xh, pb[k] += gv;
            if (Dx) {
                const float d = gv * wr[k];
                s1 += d;
                s2 += double(d) * xh;
            }
        }
    } else {
        for (int64_t j = 0; j < a.K / a.R; ++j) {
            const float *xj = xr + j * a.R, *gj = gr + j * a.R;
            const float s = wr[j];
            float tw = 0.f, tb = 0.f;
#pragma omp simd reduction(+ : tw, tb, s1, s2)
            for (int64_t i = 0; i < a.R; ++i) {
                const float xh = (xj[i] - mu) * is, gv = gj[i];
                if (Sums) tw += gv * xh, tb += gv;
                if (Dx) {
                    const float d = gv * s;
                    s1 += d;
                    s2 += double(d) * xh;
                }
            }
            if (Sums) pw[j] += tw, pb[j] += tb;
        }
    }
    *sg = s1;
    *sgy = s2;
}

// The second pass, over the same row while it is in cache:
// dx = invstd (g w - mean(g w) - xhat mean(g w xhat)), written or added.
template <bool Accumulate>
NORMGRAD_INLINE void affine_row_dx(const float* xr, const float* gr, const float* wr, float mu,
                                   float is, float mg, float mgy, const AffineRows& a, float* dx) {
    auto put = [dx](int64_t k, float v) {
        if (Accumulate)
            dx[k] += v;
        else
            dx[k] = v;
    };
    if (a.R == 1) {
#pragma omp simd
        for (int64_t k = 0; k < a.K; ++k)
            put(k, is * (gr[k] * wr[k] - mg - ((xr[k] - mu) * is) * mgy));
        return;
    }
    for (int64_t j = 0; j < a.K / a.R; ++j) {
        const int64_t o = j * a.R;
        const float s = wr[j];
#pragma omp simd
        for (int64_t i = 0; i < a.R; ++i)
            put(o + i, is * (gr[o + i] * s - mg - ((xr[o + i] - mu) * is) * mgy));
    }
}

// Rows [lo, hi), one block of partial sums: both passes over each row.
template <bool Sums, bool Dx>
NORMGRAD_INLINE void backward_affine_rows_as(const float* x, const float* g, const float* w,
                                             const float* mean, const float* invstd, int64_t lo,
                                             int64_t hi, const AffineRows& a, float* dx,
                                             bool accumulate, float* pw, float* pb) {
    for (int64_t r = lo; r < hi; ++r) {
        const float *xr = x + r * a.K, *gr = g + r * a.K, *wr = w + a.first_q(r);
        const float mu = mean[r], is = invstd[r];
        double sg = 0.0, sgy = 0.0;
        float* pwr = Sums ? pw + a.first_q(r) : nullptr;  // (pw and pb are null without Sums)
        float* pbr = Sums ? pb + a.first_q(r) : nullptr;
        affine_row_sums<Sums, Dx>(xr, gr, wr, mu, is, a, pwr, pbr, &sg, &sgy);
        if (!Dx) continue;
        const auto mg = static_cast<float>(sg / double(a.K));
        const auto mgy = static_cast<float>(sgy / double(a.K));
        if (accumulate)
            affine_row_dx<true>(xr, gr, wr, mu, is, mg, mgy, a, dx + r * a.K);
        else
            affine_row_dx<false>(xr, gr, wr, mu, is, mg, mgy, a, dx + r * a.K);
    }
}
// dx null: no dx; pw null: no partial sums.
NORMGRAD_INLINE void backward_affine_rows_body(const float* x, const float* g, const float* w,
                                               const float* mean, const float* invstd, int64_t lo,
                                               int64_t hi, const AffineRows& a, float* dx,
                                               bool accumulate, float* pw, float* pb) {
    if (pw && dx)
        return backward_affine_rows_as<true, true>(x, g, w, mean, invstd, lo, hi, a, dx, accumulate,
                                                   pw, pb);
    if (pw)
        return backward_affine_rows_as<true, false>(x, g, w, mean, invstd, lo, hi, a, dx,
                                                    accumulate, pw, pb);
    if (dx)
        backward_affine_rows_as<false, true>(x, g, w, mean, invstd, lo, hi, a, dx, accumulate, pw,
                                             pb);
}
NORMGRAD_KERNEL(void, backward_affine_rows,
                (const float* x, const float* g, const float* w, const float* mean,
                 const float* invstd, int64_t lo, int64_t hi, const AffineRows& a, float* dx,
                 bool accumulate, float* pw, float* pb),
                backward_affine_rows_body,
                (x, g, w, mean, invstd, lo, hi, a, dx, accumulate, pw, pb))

// sw[q] += pw[q], sb[q] += pb[q] for q in [lo, hi): one block's partial sums into the totals.
NORMGRAD_INLINE void add_block_sums_body(const float* pw, const float* pb, int64_t lo, int64_t hi,
                                         double* sw, double* sb) {
#pragma omp simd
    for (int64_t q = lo; q < hi; ++q) {
        sw[q] += pw[q];
        sb[q] += pb[q];
    }
}
NORMGRAD_KERNEL(void, add_block_sums,
                (const float* pw, const float* pb, int64_t lo, int64_t hi, double* sw, double* sb),
                add_block_sums_body, (pw, pb, lo, hi, sw, sb))

}  // namespace

void forward(const float* x, int64_t rows, int64_t K, float eps, float* y, float* invstd) {
    over_rows(rows, K, [&](int64_t lo, int64_t hi) { forward_rows(x, lo, hi, K, eps, y, invstd); });
}

void backward(const float* y, const float* g, const float* invstd, int64_t rows, int64_t K,
              GradBuffer dx) {
    over_rows(rows, K, [&](int64_t lo, int64_t hi) {
        backward_rows(y, g, invstd, lo, hi, K, dx.data, dx.accumulate);
    });
}

void forward_affine(const float* x, const float* w, const float* b, const AffineRows& a, float eps,
                    float* y, float* mean, float* invstd) {
    over_rows(a.rows, a.K, [&](int64_t lo, int64_t hi) {
        forward_affine_rows(x, w, b, lo, hi, a, eps, y, mean, invstd);
    });
}

void backward_affine(const float* x, const float* g, const float* w, const float* mean,
                     const float* invstd, const AffineRows& a, GradBuffer dx, double* sw,
                     double* sb) {
    // Blocks of kAffineBlockRows rows, each with its own partial sums of dw and db (Q floats
    // each), so that a block's rows are summed in float and the blocks in double, in order.
    const int64_t blocks = (a.rows + kAffineBlockRows - 1) / kAffineBlockRows;
    // (Not zeroed here: each block zeroes its own, in its thread's cache.)
    const std::unique_ptr<float[]> partial(sw ? new float[size_t(2 * blocks * a.Q)] : nullptr);
    const bool parallel =
        a.rows * a.K >= min_parallel_elements() && blocks > 1 && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t blk = 0; blk < blocks; ++blk) {
        float* pw = sw ? partial.get() + 2 * blk * a.Q : nullptr;
        float* pb = sw ? pw + a.Q : nullptr;
        if (pw) std::fill(pw, pw + 2 * a.Q, 0.f);
        const int64_t lo = blk * kAffineBlockRows, hi = std::min(a.rows, lo + kAffineBlockRows);
        backward_affine_rows(x, g, w, mean, invstd, lo, hi, a, dx.data, dx.accumulate, pw, pb);
    }
    if (!sw) return;
    // The blocks' partial sums added in order, each thread for its own range of q.
    const float* part = partial.get();
#pragma omp parallel if (parallel && a.Q >= 64)
    {
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        const int64_t lo = a.Q * t / nt, hi = a.Q * (t + 1) / nt;
        std::fill(sw + lo, sw + hi, 0.0);
        std::fill(sb + lo, sb + hi, 0.0);
        for (int64_t blk = 0; blk < blocks; ++blk)
            add_block_sums(part + 2 * blk * a.Q, part + (2 * blk + 1) * a.Q, lo, hi, sw, sb);
    }
}

}  // namespace normgrad::kernels::standardize
