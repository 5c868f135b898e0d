#include "kernels/winograd.hpp"

#include <omp.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "kernels/gemm.hpp"
#include "normgrad/storage.hpp"

// ---- How the tile transforms are computed ----
// A 2-D transform such as V = B^T d B is a 1-D transform along the width of the tile (d B) and
// one along its height (B^T ...). Done tile by tile that is alpha^2 scattered loads and stores
// per tile. Here each pass runs over many tiles at once, in loops the compiler vectorises:
//   - along the width, one padded input row at a time: tile column tw reads columns
//     m tw .. m tw + alpha - 1 of the row; the outputs are stored by row phase (row mod m);
//   - along the height, all the tiles of a plane at once: rows m th + s (s < alpha) of tile
//     t = th * TW + tw are row th + s / m of phase s % m, that is at t + (s / m) TW in that
//     phase's outputs: alpha streams at fixed offsets from t.
// The output transform and the two backward transforms are the same passes in reverse.
// Positions xi = alpha i + j of a transformed tile: i along the height, j along the width.

namespace normgrad::kernels {

namespace {

// ---- The two algorithms: the 1-D transforms of F(m, 3) and their transposes ----
// input:  v = B^T d     (alpha -> alpha)      input_t:  d = B v     (its transpose)
// weight: u = G g       (3 -> alpha)          weight_t: g = G^T u
// output: y = A^T m     (alpha -> m)          output_t: m = A y

struct F2 {  // F(2, 3): 4 inputs, 2 outputs (see winograd.hpp)
    static constexpr int m = 2, alpha = 4;
    static void input(const float* d, float* v) {
        v[0] = d[0] - d[2];
        v[1] = d[1] + d[2];
        v[2] = d[2] - d[1];
        v[3] = d[1] - d[3];
    }
    static void input_t(const float* v, float* d) {
        d[0] = v[0];
        d[1] = v[1] - v[2] + v[3];
        d[2] = v[1] + v[2] - v[0];
        d[3] = -v[3];
    }
    static void weight(const float* g, float* u) {
        u[0] = g[0];
        u[1] = 0.5f * (g[0] + g[1] + g[2]);
        u[2] = 0.5f * (g[0] - g[1] + g[2]);
        u[3] = g[2];
    }
    static void weight_t(const float* u, float* g) {
        g[0] = u[0] + 0.5f * (u[1] + u[2]);
        g[1] = 0.5f * (u[1] - u[2]);
        g[2] = 0.5f * (u[1] + u[2]) + u[3];
    }
    static void output(const float* mm, float* y) {
        y[0] = mm[0] + mm[1] + mm[2];
        y[1] = mm[1] - mm[2] - mm[3];
    }
    static void output_t(const float* y, float* mm) {
        mm[0] = y[0];
        mm[1] = y[0] + y[1];
        mm[2] = y[0] - y[1];
        mm[3] = -y[1];
    }
};

struct F4 {  // F(4, 3): 6 inputs, 4 outputs (see winograd.hpp)
    static constexpr int m = 4, alpha = 6;
    static void input(const float* d, float* v) {
        v[0] = 4.f * d[0] - 5.f * d[2] + d[4];
        v[1] = -4.f * (d[1] + d[2]) + d[3] + d[4];
        v[2] = 4.f * (d[1] - d[2]) - d[3] + d[4];
        v[3] = 2.f * (d[3] - d[1]) - d[2] + d[4];
        v[4] = 2.f * (d[1] - d[3]) - d[2] + d[4];
        v[5] = 4.f * d[1] - 5.f * d[3] + d[5];
    }
    static void input_t(const float* v, float* d) {
        d[0] = 4.f * v[0];
        d[1] = 4.f * (v[2] - v[1] + v[5]) + 2.f * (v[4] - v[3]);
        d[2] = -5.f * v[0] - 4.f * (v[1] + v[2]) - v[3] - v[4];
        d[3] = v[1] - v[2] + 2.f * (v[3] - v[4]) - 5.f * v[5];
        d[4] = v[0] + v[1] + v[2] + v[3] + v[4];
        d[5] = v[5];
    }
    static void weight(const float* g, float* u) {
        u[0] = g[0] / 4.f;
        u[1] = -(g[0] + g[1] + g[2]) / 6.f;
        u[2] = -(g[0] - g[1] + g[2]) / 6.f;
        u[3] = g[0] / 24.f + g[1] / 12.f + g[2] / 6.f;
        u[4] = g[0] / 24.f - g[1] / 12.f + g[2] / 6.f;
        u[5] = g[2];
    }
    static void weight_t(const float* u, float* g) {
        g[0] = u[0] / 4.f - (u[1] + u[2]) / 6.f + (u[3] + u[4]) / 24.f;
        g[1] = (u[2] - u[1]) / 6.f + (u[3] - u[4]) / 12.f;
        g[2] = (u[3] + u[4] - u[1] - u[2]) / 6.f + u[5];
    }
    static void output(const float* mm, float* y) {
        y[0] = mm[0] + mm[1] + mm[2] + mm[3] + mm[4];
        y[1] = mm[1] - mm[2] + 2.f * (mm[3] - mm[4]);
        y[2] = mm[1] + mm[2] + 4.f * (mm[3] + mm[4]);
        y[3] = mm[1] - mm[2] + 8.f * (mm[3] - mm[4]) + mm[5];
    }
    static void output_t(const float* y, float* mm) {
        mm[0] = y[0];
        mm[1] = y[0] + y[1] + y[2] + y[3];
        mm[2] = y[0] - y[1] + y[2] - y[3];
        mm[3] = y[0] + 2.f * y[1] + 4.f * y[2] + 8.f * y[3];
        mm[4] = y[0] - 2.f * y[1] + 4.f * y[2] - 8.f * y[3];
        mm[5] = y[3];
    }
};

// Multiplications per output: alpha^2 per tile of m^2 outputs, counting the tiles that stick out
// of the image. F(4, 3) does fewer (36 / 16 against 16 / 4) unless its bigger tiles waste more.
template <class F>
int64_t multiplications(const ConvGeometry& g) {
    return int64_t{F::alpha} * F::alpha * ((g.OH + F::m - 1) / F::m) * ((g.OW + F::m - 1) / F::m);
}

struct Tiling {
    int64_t TH, TW;  // output tiles per image: rows, columns (m x m outputs each)
    int64_t PH, PW;  // the zero-padded input rows the tiles read, and their length
    int64_t tiles() const { return TH * TW; }
    // Blocks of whole images (no two blocks touch the same input pixel), shared among threads.
    int64_t blocks, max_images;
    int64_t first_image(int64_t block, int64_t N) const { return N * block / blocks; }
};

// About this many tiles of F(2, 3) per block (fewer for F(4, 3), whose tiles are bigger): the
// block's transformed tiles and products then take a few megabytes at most and stay in cache
// between the transforms and the GEMMs.
constexpr int64_t kValuesPerBlock = 256 * 16;

template <class F>
Tiling tiling(const ConvGeometry& g, int threads) {
    Tiling t{};
    t.TH = (g.OH + F::m - 1) / F::m;
    t.TW = (g.OW + F::m - 1) / F::m;
    t.PH = F::m * t.TH + 2;
    t.PW = F::m * t.TW + 2;
    const int64_t values = g.N * t.tiles() * F::alpha * F::alpha;
    const int64_t want = std::max<int64_t>(1, values / kValuesPerBlock);
    // A multiple of the thread count, so that the threads get equal shares.
    t.blocks = std::min(g.N, (want + threads - 1) / threads * threads);
    t.max_images = 0;
    for (int64_t b = 0; b < t.blocks; ++b)
        t.max_images = std::max(t.max_images, t.first_image(b + 1, g.N) - t.first_image(b, g.N));
    return t;
}

// One thread's scratch for the transforms of one plane.
template <class F>
struct Scratch {
    float* row;  // one padded row, PW
    float* h;    // width-pass outputs [alpha][m phases][(TH + 1) x TW]
    float* y;    // m^2 planes of per-tile values [m * m][TH x TW]
    int64_t rows, TW;

    static int64_t floats(const Tiling& T) {
        return T.PW + F::alpha * F::m * (T.TH + 1) * T.TW + F::m * F::m * T.tiles();
    }
    Scratch(const Tiling& T, float* base) : rows(T.TH + 1), TW(T.TW) {
        row = base;
        h = row + T.PW;
        y = h + F::alpha * F::m * rows * TW;
    }
    // Output r of the width pass, rows of phase `phase` (padded rows phase, phase + m, ...).
    float* h_rows(int r, int64_t phase) const { return h + (r * F::m + phase) * rows * TW; }
    float* h_row(int r, int64_t i) const { return h_rows(r, i % F::m) + (i / F::m) * TW; }
};

// Plain loops for short rows (a call to memmove or memset would cost more than the work).
inline void copy_row(const float* src, int64_t n, float* dst) {
#pragma omp simd
    for (int64_t k = 0; k < n; ++k) dst[k] = src[k];
}
inline void zero_row(float* dst, int64_t n) {
#pragma omp simd
    for (int64_t k = 0; k < n; ++k) dst[k] = 0.f;
}
// fn(0), fn(1), ..., fn(N - 1), written out by the compiler: each index is a constant, so the
// short loops over a tile's values vanish from the loops over tiles, which can then be vectorised.
template <int N, class Fn>
inline void unrolled(Fn&& fn) {
    [&]<int... I>(std::integer_sequence<int, I...>) {
        (fn(I), ...);
    }
    (std::make_integer_sequence<int, N>{});
}

inline float plane_sum(const float* p, int64_t n) {
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t k = 0; k < n; ++k) s += p[k];
    return s;
}

// U[xi][o][c] = (G w[o, c] G^T)[xi].
template <class F>
void transform_weights(const ConvGeometry& g, int64_t O, const float* w, float* U) {
    constexpr int A = F::alpha;
    const int64_t OC = O * g.C;
    for (int64_t oc = 0; oc < OC; ++oc) {
        const float* k = w + oc * 9;
        float t[A][3], col[3], u[A];
        for (int j = 0; j < 3; ++j) {  // along the height: each column of the kernel
            for (int i = 0; i < 3; ++i) col[i] = k[i * 3 + j];
            F::weight(col, u);
            for (int i = 0; i < A; ++i) t[i][j] = u[i];
        }
        for (int i = 0; i < A; ++i) {  // along the width: each row
            F::weight(t[i], u);
            for (int j = 0; j < A; ++j) U[(i * A + j) * OC + oc] = u[j];
        }
    }
}

// dw[o, c] (+)= G^T dU[o, c] G.
template <class F>
void transform_weights_transpose(const ConvGeometry& g, int64_t O, const float* dU, GradBuffer dw) {
    constexpr int A = F::alpha;
    const int64_t OC = O * g.C;
    for (int64_t oc = 0; oc < OC; ++oc) {
        float t[3][A], col[A], k[3];
        for (int j = 0; j < A; ++j) {
            for (int i = 0; i < A; ++i) col[i] = dU[(i * A + j) * OC + oc];
            F::weight_t(col, k);
            for (int i = 0; i < 3; ++i) t[i][j] = k[i];
        }
        float* d = dw.data + oc * 9;
        for (int i = 0; i < 3; ++i) {
            F::weight_t(t[i], k);
            for (int j = 0; j < 3; ++j) d[i * 3 + j] = dw.accumulate ? d[i * 3 + j] + k[j] : k[j];
        }
    }
}

// V = B^T d B for all the tiles of one input plane x [H, W], into V[xi][t] at v + xi * stride.
template <class F>
void input_transform(const ConvGeometry& g, const Tiling& T, const float* x, float* v,
                     int64_t stride, const Scratch<F>& s) {
    constexpr int m = F::m, A = F::alpha;
    const int64_t TW = T.TW;
    float* p = s.row;
    const int64_t output_stride = m * s.rows * TW;  // from width-pass output r to r + 1
    for (int64_t i = 0; i < T.PH; ++i) {            // along the width, padded row i = ih + padding
        float* h = s.h_row(0, i);                   // output r of this row: h[r output_stride + tw]
        const int64_t ih = i - g.padding;
        if (ih < 0 || ih >= g.H) {  // a row of padding
            for (int r = 0; r < A; ++r) zero_row(h + r * output_stride, TW);
            continue;
        }
        zero_row(p, g.padding);
        copy_row(x + ih * g.W, g.W, p + g.padding);
        zero_row(p + g.padding + g.W, T.PW - g.padding - g.W);
#pragma omp simd
        for (int64_t tw = 0; tw < TW; ++tw) {
            float d[A], out[A];
            unrolled<A>([&](int c) { d[c] = p[m * tw + c]; });
            F::input(d, out);
            unrolled<A>([&](int r) { h[r * output_stride + tw] = out[r]; });
        }
    }
    // (Indexing from one base pointer with constant offsets, rather than through arrays of
    // pointers, lets the compiler see that the loops' loads and stores are independent.)
    const int64_t phase = s.rows * TW;  // from one phase's rows to the next
    for (int j = 0; j < A; ++j) {       // along the height, all tiles at once
        const float* h =
            s.h_rows(j, 0);           // row m th + c of tile t: h[(c % m) phase + (c / m) TW + t]
        float* out = v + j * stride;  // position (i, j): out[i A stride + t]
#pragma omp simd
        for (int64_t t = 0; t < T.tiles(); ++t) {
            float d[A], o[A];
            unrolled<A>([&](int c) { d[c] = h[(c % m) * phase + (c / m) * TW + t]; });
            F::input(d, o);
            unrolled<A>([&](int i) { out[i * A * stride + t] = o[i]; });
        }
    }
}

// dx (+)= B dV B^T of every tile, summed where the tiles' windows overlap, for one plane:
// input_transform's passes transposed, in reverse order. A tile's window reaches into the next
// tile row (column) by alpha - m; those parts are added in a second loop, so that no loop adds
// twice to the same place.
template <class F>
void input_transform_transpose(const ConvGeometry& g, const Tiling& T, const float* dv,
                               int64_t stride, float* dx, bool accumulate, const Scratch<F>& s) {
    constexpr int m = F::m, A = F::alpha;
    const int64_t TW = T.TW;
    zero_row(s.h, A * m * s.rows * TW);
    const int64_t phase = s.rows * TW, output_stride = m * phase;
    for (int j = 0; j < A; ++j) {  // along the height
        float* h = s.h_rows(j, 0);
        const float* in = dv + j * stride;
        // Rows m th .. m th + m - 1 of each tile first, then the rows below them.
#pragma omp simd
        for (int64_t t = 0; t < T.tiles(); ++t) {
            float vv[A], d[A];
            unrolled<A>([&](int i) { vv[i] = in[i * A * stride + t]; });
            F::input_t(vv, d);
            unrolled<m>([&](int c) { h[c * phase + t] += d[c]; });
        }
#pragma omp simd
        for (int64_t t = 0; t < T.tiles(); ++t) {
            float vv[A], d[A];
            unrolled<A>([&](int i) { vv[i] = in[i * A * stride + t]; });
            F::input_t(vv, d);
            unrolled<A - m>([&](int c) { h[c * phase + TW + t] += d[m + c]; });
        }
    }
    float* p = s.row;
    for (int64_t ih = 0; ih < g.H; ++ih) {  // along the width (padding rows are dropped)
        const int64_t i = ih + g.padding;
        const float* h = s.h_row(0, i);
        zero_row(p, T.PW);
        // Columns m tw .. m tw + m - 1 of each tile first, then the columns right of them.
#pragma omp simd
        for (int64_t tw = 0; tw < TW; ++tw) {
            float vv[A], d[A];
            unrolled<A>([&](int r) { vv[r] = h[r * output_stride + tw]; });
            F::input_t(vv, d);
            unrolled<m>([&](int c) { p[m * tw + c] += d[c]; });
        }
#pragma omp simd
        for (int64_t tw = 0; tw < TW; ++tw) {
            float vv[A], d[A];
            unrolled<A>([&](int r) { vv[r] = h[r * output_stride + tw]; });
            F::input_t(vv, d);
            unrolled<A - m>([&](int c) { p[m * tw + m + c] += d[m + c]; });
        }
        const float* src = p + g.padding;  // padding columns are dropped
        float* d = dx + ih * g.W;
        if (accumulate) {
#pragma omp simd
            for (int64_t iw = 0; iw < g.W; ++iw) d[iw] += src[iw];
        } else {
            copy_row(src, g.W, d);
        }
    }
}

// y = A^T M A + bias for all the tiles of one output plane; M[xi][t] at mm + xi * stride.
template <class F>
void output_transform(const ConvGeometry& g, const Tiling& T, const float* mm, int64_t stride,
                      float bias, float* y, const Scratch<F>& s) {
    constexpr int m = F::m, A = F::alpha;
    const int64_t TW = T.TW, TI = T.tiles();
    float* Y = s.y;  // output (a, b) of tile t at Y[(a m + b) TI + t]
#pragma omp simd
    for (int64_t t = 0; t < TI; ++t) {
        float z[m][A], col[A], out[m];
        unrolled<A>([&](int j) {  // along the height
            unrolled<A>([&](int i) { col[i] = mm[(i * A + j) * stride + t]; });
            F::output(col, out);
            unrolled<m>([&](int a) { z[a][j] = out[a]; });
        });
        unrolled<m>([&](int a) {  // along the width
            F::output(z[a], out);
            unrolled<m>([&](int b) { Y[(a * m + b) * TI + t] = out[b] + bias; });
        });
    }
    // Interleave each tile row's m output columns into the image rows, dropping the outputs
    // beyond the image.
    const int64_t full = g.OW / m;  // tiles with all m output columns inside
    for (int64_t oh = 0; oh < g.OH; ++oh) {
        const float* ya = Y + (oh % m) * m * TI + (oh / m) * TW;  // output (a, b): ya[b TI + tw]
        float* row = y + oh * g.OW;
#pragma omp simd
        for (int64_t tw = 0; tw < full; ++tw)
            unrolled<m>([&](int b) { row[m * tw + b] = ya[b * TI + tw]; });
        for (int64_t ow = full * m; ow < g.OW; ++ow) row[ow] = ya[(ow % m) * TI + full];
    }
}

// dM = A dY A^T for all the tiles of one output-gradient plane dy, into dm + xi * stride
// (dY = 0 for the outputs beyond the image): output_transform's passes transposed.
template <class F>
void output_transform_transpose(const ConvGeometry& g, const Tiling& T, const float* dy, float* dm,
                                int64_t stride, const Scratch<F>& s) {
    constexpr int m = F::m, A = F::alpha;
    const int64_t TW = T.TW, TI = T.tiles();
    float* Y = s.y;  // output gradient (a, b) of tile t at Y[(a m + b) TI + t]
    const int64_t full = g.OW / m;
    for (int64_t oh = 0; oh < m * T.TH; ++oh) {
        float* ya = Y + (oh % m) * m * TI + (oh / m) * TW;
        if (oh >= g.OH) {
            for (int b = 0; b < m; ++b) zero_row(ya + b * TI, TW);
            continue;
        }
        const float* row = dy + oh * g.OW;
#pragma omp simd
        for (int64_t tw = 0; tw < full; ++tw)
            unrolled<m>([&](int b) { ya[b * TI + tw] = row[m * tw + b]; });
        if (full < TW)
            for (int b = 0; b < m; ++b)
                ya[b * TI + full] = full * m + b < g.OW ? row[full * m + b] : 0.f;
    }
#pragma omp simd
    for (int64_t t = 0; t < TI; ++t) {
        float z[m][A], in[m], out[A];
        unrolled<m>([&](int a) {  // along the width
            unrolled<m>([&](int b) { in[b] = Y[(a * m + b) * TI + t]; });
            F::output_t(in, z[a]);
        });
        unrolled<A>([&](int j) {  // along the height
            unrolled<m>([&](int a) { in[a] = z[a][j]; });
            F::output_t(in, out);
            unrolled<A>([&](int i) { dm[(i * A + j) * stride + t] = out[i]; });
        });
    }
}

template <class F>
void forward(const ConvGeometry& g, int64_t O, const float* x, const float* w, const float* bias,
             float* y) {
    constexpr int XI = F::alpha * F::alpha;  // the positions of a transformed tile
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    const Tiling T = tiling<F>(g, threads);
    const int64_t C = g.C, TI = T.tiles(), ld_max = T.max_images * TI;
    std::vector<float> U(size_t(XI * O * C));
    transform_weights<F>(g, O, w, U.data());

    // Per thread: V [XI][C][tiles], M [XI][O][tiles], scratch.
    const int64_t per_thread = XI * (C + O) * ld_max + Scratch<F>::floats(T);
    const auto work = Storage::make(size_t(per_thread * threads));
#pragma omp parallel num_threads(threads)
    {
        float* V = work->data() + omp_get_thread_num() * per_thread;
        float* M = V + XI * C * ld_max;
        const Scratch<F> scratch(T, M + XI * O * ld_max);
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < T.blocks; ++blk) {
            const int64_t n0 = T.first_image(blk, g.N), n1 = T.first_image(blk + 1, g.N);
            const int64_t ld = (n1 - n0) * TI;  // the block's tiles
            for (int64_t n = n0; n < n1; ++n)
                for (int64_t c = 0; c < C; ++c)
                    input_transform<F>(g, T, x + (n * C + c) * g.H * g.W,
                                       V + c * ld + (n - n0) * TI, C * ld, scratch);
            for (int xi = 0; xi < XI; ++xi)  // M_xi = U_xi V_xi
                gemm_serial(false, false, O, ld, C, 1.f, U.data() + xi * O * C, C, V + xi * C * ld,
                            ld, 0.f, M + xi * O * ld, ld);
            for (int64_t n = n0; n < n1; ++n)
                for (int64_t o = 0; o < O; ++o)
                    output_transform<F>(g, T, M + o * ld + (n - n0) * TI, O * ld,
                                        bias ? bias[o] : 0.f, y + (n * O + o) * g.OH * g.OW,
                                        scratch);
        }
    }
}

template <class F>
void backward(const ConvGeometry& g, int64_t O, const float* x, const float* w, const float* dy,
              GradBuffer dw, GradBuffer db, GradBuffer dx) {
    constexpr int XI = F::alpha * F::alpha;
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    const Tiling T = tiling<F>(g, threads);
    const int64_t C = g.C, TI = T.tiles(), ld_max = T.max_images * TI;
    std::vector<float> U(size_t(XI * O * C));
    transform_weights<F>(g, O, w, U.data());

    // Per thread: V [XI][C][tiles] (then dV in its place), dM [XI][O][tiles], its share of
    // dU [XI][O][C], scratch; and its share of db.
    const int64_t per_thread = XI * (C + O) * ld_max + XI * O * C + Scratch<F>::floats(T);
    const auto work = Storage::make(size_t(per_thread * threads));
    std::vector<double> db_shares(size_t(threads * O), 0.0);
    auto share = [&](int thread) {
        return work->data() + thread * per_thread + XI * (C + O) * ld_max;
    };
#pragma omp parallel num_threads(threads)
    {
        float* V = work->data() + omp_get_thread_num() * per_thread;
        float* dM = V + XI * C * ld_max;
        float* dU = share(omp_get_thread_num());
        const Scratch<F> scratch(T, dU + XI * O * C);
        std::fill(dU, dU + XI * O * C, 0.f);
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < T.blocks; ++blk) {
            const int64_t n0 = T.first_image(blk, g.N), n1 = T.first_image(blk + 1, g.N);
            const int64_t ld = (n1 - n0) * TI;
            double* db_share = db_shares.data() + omp_get_thread_num() * O;
            for (int64_t n = n0; n < n1; ++n)
                for (int64_t o = 0; o < O; ++o) {
                    const float* dyo = dy + (n * O + o) * g.OH * g.OW;
                    output_transform_transpose<F>(g, T, dyo, dM + o * ld + (n - n0) * TI, O * ld,
                                                  scratch);
                    if (db.data) db_share[o] += plane_sum(dyo, g.OH * g.OW);  // still in cache
                }
            if (dw.data) {  // dU_xi += dM_xi V_xi^T, V recomputed from x
                for (int64_t n = n0; n < n1; ++n)
                    for (int64_t c = 0; c < C; ++c)
                        input_transform<F>(g, T, x + (n * C + c) * g.H * g.W,
                                           V + c * ld + (n - n0) * TI, C * ld, scratch);
                for (int xi = 0; xi < XI; ++xi)
                    gemm_serial(false, true, O, C, ld, 1.f, dM + xi * O * ld, ld, V + xi * C * ld,
                                ld, 1.f, dU + xi * O * C, C);
            }
            if (dx.data) {  // dV_xi = U_xi^T dM_xi, then dx = B dV B^T over the windows
                float* dV = V;
                for (int xi = 0; xi < XI; ++xi)
                    gemm_serial(true, false, C, ld, O, 1.f, U.data() + xi * O * C, C,
                                dM + xi * O * ld, ld, 0.f, dV + xi * C * ld, ld);
                for (int64_t n = n0; n < n1; ++n)
                    for (int64_t c = 0; c < C; ++c)
                        input_transform_transpose<F>(g, T, dV + c * ld + (n - n0) * TI, C * ld,
                                                     dx.data + (n * C + c) * g.H * g.W,
                                                     dx.accumulate, scratch);
            }
        }
    }
    if (db.data)  // the threads' shares, summed in a fixed order
        for (int64_t o = 0; o < O; ++o) {
            double sum = 0.0;
            for (int t = 0; t < threads; ++t) sum += db_shares[size_t(t * O + o)];
            const auto v = static_cast<float>(sum);
            db.data[o] = db.accumulate ? db.data[o] + v : v;
        }
    if (!dw.data) return;
    // The threads' shares of dU, summed in a fixed order into the first.
    float* dU = share(0);
    for (int t = 1; t < threads; ++t) {
        const float* s = share(t);
        for (int64_t i = 0; i < XI * O * C; ++i) dU[i] += s[i];
    }
    transform_weights_transpose<F>(g, O, dU, dw);
}

}  // namespace

bool winograd_supports(const ConvGeometry& g) {
    return g.kH == 3 && g.kW == 3 && g.stride == 1 && g.OH > 0 && g.OW > 0;
}

WinogradTile winograd_tile(const ConvGeometry& g) {
    return multiplications<F4>(g) < multiplications<F2>(g) ? WinogradTile::F4x4
                                                           : WinogradTile::F2x2;
}

void winograd_forward(const ConvGeometry& g, int64_t O, const float* x, const float* w,
                      const float* b, float* y, WinogradTile tile) {
    if (tile == WinogradTile::F4x4)
        forward<F4>(g, O, x, w, b, y);
    else
        forward<F2>(g, O, x, w, b, y);
}

void winograd_backward(const ConvGeometry& g, int64_t O, const float* x, const float* w,
                       const float* dy, GradBuffer dw, GradBuffer db, GradBuffer dx,
                       WinogradTile tile) {
    if (!dw.data && !db.data && !dx.data) return;
    if (tile == WinogradTile::F4x4)
        backward<F4>(g, O, x, w, dy, dw, db, dx);
    else
        backward<F2>(g, O, x, w, dy, dw, db, dx);
}

}  // namespace normgrad::kernels
