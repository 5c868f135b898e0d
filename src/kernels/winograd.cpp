#include "kernels/winograd.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/gemm.hpp"
#include "kernels/isa.hpp"
#include "kernels/reductions.hpp"
#include "kernels/simd.hpp"
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

// The loops over tiles hold short loops over a tile's values. NORMGRAD_UNROLL asks for those to
// be written out (so their indices become constants), and NORMGRAD_IVDEP tells the compiler that
// the iterations of the loop over tiles are independent, so that it vectorises that loop.
#if defined(__clang__)
#define NORMGRAD_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#define NORMGRAD_UNROLL _Pragma("unroll")
#else
#define NORMGRAD_IVDEP _Pragma("GCC ivdep")
#define NORMGRAD_UNROLL _Pragma("GCC unroll 8")
#endif

namespace normgrad::kernels {

namespace {

// ---- The algorithm, F(m, 3): its 1-D transforms and their transposes ----
// input:  v = B^T d     (alpha -> alpha)      input_t:  d = B v     (its transpose)
// weight: u = G g       (3 -> alpha)          weight_t: g = G^T u
// output: y = A^T m     (alpha -> m)          output_t: m = A y

struct F2 {  // F(2, 3): 4 inputs, 2 outputs (see winograd.hpp)
    static constexpr int m = 2, alpha = 4;
    // (T: float, or a v8 of eight channels: input_transforms_by_channels and its transpose)
    template <class T>
    NORMGRAD_INLINE static void input(const T* d, T* v) {
        v[0] = d[0] - d[2];
        v[1] = d[1] + d[2];
        v[2] = d[2] - d[1];
        v[3] = d[1] - d[3];
    }
    template <class T>
    NORMGRAD_INLINE static void input_t(const T* v, T* d) {
        d[0] = v[0];
        d[1] = v[1] - v[2] + v[3];
        d[2] = v[1] + v[2] - v[0];
        d[3] = -v[3];
    }
    NORMGRAD_INLINE static void weight(const float* g, float* u) {
        u[0] = g[0];
        u[1] = 0.5f * (g[0] + g[1] + g[2]);
        u[2] = 0.5f * (g[0] - g[1] + g[2]);
        u[3] = g[2];
    }
    NORMGRAD_INLINE static void weight_t(const float* u, float* g) {
        g[0] = u[0] + 0.5f * (u[1] + u[2]);
        g[1] = 0.5f * (u[1] - u[2]);
        g[2] = 0.5f * (u[1] + u[2]) + u[3];
    }
    template <class T>
    NORMGRAD_INLINE static void output(const T* mm, T* y) {
        y[0] = mm[0] + mm[1] + mm[2];
        y[1] = mm[1] - mm[2] - mm[3];
    }
    template <class T>
    NORMGRAD_INLINE static void output_t(const T* y, T* mm) {
        mm[0] = y[0];
        mm[1] = y[0] + y[1];
        mm[2] = y[0] - y[1];
        mm[3] = -y[1];
    }
};

struct Tiling {
    int64_t TH, TW;  // output tiles per image: rows, columns (m x m outputs each)
    int64_t PH, PW;  // the zero-padded input rows the tiles read, and their length
    int64_t tiles() const { return TH * TW; }
    // Blocks of whole images (no two blocks touch the same input pixel), shared among threads.
    int64_t blocks, max_images;
    int64_t first_image(int64_t block, int64_t N) const { return N * block / blocks; }
};

// About this many transformed values per block (256 tiles of F(2, 3)): the block's transformed
// tiles and products then take a few megabytes at most and stay in cache between the transforms
// and the GEMMs.
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
NORMGRAD_INLINE void copy_row(const float* src, int64_t n, float* dst) {
#pragma omp simd
    for (int64_t k = 0; k < n; ++k) dst[k] = src[k];
}
NORMGRAD_INLINE void zero_row(float* dst, int64_t n) {
#pragma omp simd
    for (int64_t k = 0; k < n; ++k) dst[k] = 0.f;
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
NORMGRAD_INLINE void input_transform(const ConvGeometry& g, const Tiling& T, const float* x,
                                     float* v, int64_t stride, const Scratch<F>& s) {
    constexpr int m = F::m, A = F::alpha;
    const int64_t TW = T.TW, TI = T.tiles();
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
        NORMGRAD_IVDEP
        for (int64_t tw = 0; tw < TW; ++tw) {
            float d[A], out[A];
            NORMGRAD_UNROLL
            for (int c = 0; c < A; ++c) d[c] = p[m * tw + c];
            F::input(d, out);
            NORMGRAD_UNROLL
            for (int r = 0; r < A; ++r) h[r * output_stride + tw] = out[r];
        }
    }
    const int64_t phase = s.rows * TW;  // from one phase's rows to the next
    for (int j = 0; j < A; ++j) {       // along the height, all tiles at once
        // Row m th + c of tile t: h[c phase + t] for c < m; the rows m .. alpha - 1 below
        // are the first rows of the next tile row: next[(c - m) phase + t], next = h + TW.
        const float* h = s.h_rows(j, 0);
        const float* next = h + TW;
        NORMGRAD_IVDEP
        for (int64_t t = 0; t < TI; ++t) {
            float d[A], o[A];
            NORMGRAD_UNROLL
            for (int c = 0; c < m; ++c) d[c] = h[c * phase + t];  // rows m th + c
            NORMGRAD_UNROLL
            for (int c = 0; c < A - m; ++c) d[m + c] = next[c * phase + t];  // next tile row
            F::input(d, o);
            NORMGRAD_UNROLL
            for (int i = 0; i < A; ++i) v[(i * A + j) * stride + t] = o[i];
        }
    }
}

// dx (+)= B dV B^T of every tile, summed where the tiles' windows overlap, for one plane:
// input_transform's passes transposed, in reverse order. A tile's window reaches into the next
// tile row (column) by alpha - m; those parts are added in a second loop, so that no loop adds
// twice to the same place.
template <class F>
NORMGRAD_INLINE void input_transform_transpose(const ConvGeometry& g, const Tiling& T,
                                               const float* dv, int64_t stride, float* dx,
                                               bool accumulate, const Scratch<F>& s) {
    constexpr int m = F::m, A = F::alpha;
    const int64_t TW = T.TW, TI = T.tiles();
    zero_row(s.h, A * m * s.rows * TW);
    const int64_t phase = s.rows * TW, output_stride = m * phase;
    for (int j = 0; j < A; ++j) {  // along the height
        float* h = s.h_rows(j, 0);
        // Rows m th .. m th + m - 1 of each tile first, then the rows below them.
        NORMGRAD_IVDEP
        for (int64_t t = 0; t < TI; ++t) {
            float vv[A], d[A];
            NORMGRAD_UNROLL
            for (int i = 0; i < A; ++i) vv[i] = dv[(i * A + j) * stride + t];
            F::input_t(vv, d);
            NORMGRAD_UNROLL
            for (int c = 0; c < m; ++c) h[c * phase + t] += d[c];
        }
        NORMGRAD_IVDEP
        for (int64_t t = 0; t < TI; ++t) {
            float vv[A], d[A];
            NORMGRAD_UNROLL
            for (int i = 0; i < A; ++i) vv[i] = dv[(i * A + j) * stride + t];
            F::input_t(vv, d);
            NORMGRAD_UNROLL
            for (int c = 0; c < A - m; ++c) h[c * phase + TW + t] += d[m + c];
        }
    }
    float* p = s.row;
    for (int64_t ih = 0; ih < g.H; ++ih) {  // along the width (padding rows are dropped)
        const int64_t i = ih + g.padding;
        const float* h = s.h_row(0, i);
        zero_row(p, T.PW);
        // Columns m tw .. m tw + m - 1 of each tile first, then the columns right of them.
        NORMGRAD_IVDEP
        for (int64_t tw = 0; tw < TW; ++tw) {
            float vv[A], d[A];
            NORMGRAD_UNROLL
            for (int r = 0; r < A; ++r) vv[r] = h[r * output_stride + tw];
            F::input_t(vv, d);
            NORMGRAD_UNROLL
            for (int c = 0; c < m; ++c) p[m * tw + c] += d[c];
        }
        NORMGRAD_IVDEP
        for (int64_t tw = 0; tw < TW; ++tw) {
            float vv[A], d[A];
            NORMGRAD_UNROLL
            for (int r = 0; r < A; ++r) vv[r] = h[r * output_stride + tw];
            F::input_t(vv, d);
            NORMGRAD_UNROLL
            for (int c = 0; c < A - m; ++c) p[m * tw + m + c] += d[m + c];
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
NORMGRAD_INLINE void output_transform(const ConvGeometry& g, const Tiling& T, const float* mm,
                                      int64_t stride, float bias, float* y, const Scratch<F>& s) {
    constexpr int m = F::m, A = F::alpha;
    const int64_t TW = T.TW, TI = T.tiles();
    float* Y = s.y;  // output (a, b) of tile t at Y[(a m + b) TI + t]
    NORMGRAD_IVDEP
    for (int64_t t = 0; t < TI; ++t) {
        float z[m][A], col[A], out[m];
        NORMGRAD_UNROLL
        for (int j = 0; j < A; ++j) {  // along the height
            NORMGRAD_UNROLL
            for (int i = 0; i < A; ++i) col[i] = mm[(i * A + j) * stride + t];
            F::output(col, out);
            NORMGRAD_UNROLL
            for (int a = 0; a < m; ++a) z[a][j] = out[a];
        }
        NORMGRAD_UNROLL
        for (int a = 0; a < m; ++a) {  // along the width
            F::output(z[a], out);
            NORMGRAD_UNROLL
            for (int b = 0; b < m; ++b) Y[(a * m + b) * TI + t] = out[b] + bias;
        }
    }
    // Interleave each tile row's m output columns into the image rows, dropping the outputs
    // beyond the image.
    const int64_t full = g.OW / m;  // tiles with all m output columns inside
    for (int64_t oh = 0; oh < g.OH; ++oh) {
        const float* ya = Y + (oh % m) * m * TI + (oh / m) * TW;  // output (a, b): ya[b TI + tw]
        float* row = y + oh * g.OW;
        NORMGRAD_IVDEP
        for (int64_t tw = 0; tw < full; ++tw) NORMGRAD_UNROLL
        for (int b = 0; b < m; ++b) row[m * tw + b] = ya[b * TI + tw];
        for (int64_t ow = full * m; ow < g.OW; ++ow) row[ow] = ya[(ow % m) * TI + full];
    }
}

// dM = A dY A^T for all the tiles of one output-gradient plane dy, into dm + xi * stride
// (dY = 0 for the outputs beyond the image): output_transform's passes transposed.
template <class F>
NORMGRAD_INLINE void output_transform_transpose(const ConvGeometry& g, const Tiling& T,
                                                const float* dy, float* dm, int64_t stride,
                                                const Scratch<F>& s) {
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
        NORMGRAD_IVDEP
        for (int64_t tw = 0; tw < full; ++tw) NORMGRAD_UNROLL
        for (int b = 0; b < m; ++b) ya[b * TI + tw] = row[m * tw + b];
        if (full < TW)
            for (int b = 0; b < m; ++b)
                ya[b * TI + full] = full * m + b < g.OW ? row[full * m + b] : 0.f;
    }
    NORMGRAD_IVDEP
    for (int64_t t = 0; t < TI; ++t) {
        float z[m][A], in[m], out[A];
        NORMGRAD_UNROLL
        for (int a = 0; a < m; ++a) {  // along the width
            NORMGRAD_UNROLL
            for (int b = 0; b < m; ++b) in[b] = Y[(a * m + b) * TI + t];
            F::output_t(in, z[a]);
        }
        NORMGRAD_UNROLL
        for (int j = 0; j < A; ++j) {  // along the height
            NORMGRAD_UNROLL
            for (int a = 0; a < m; ++a) in[a] = z[a][j];
            F::output_t(in, out);
            NORMGRAD_UNROLL
            for (int i = 0; i < A; ++i) dm[(i * A + j) * stride + t] = out[i];
        }
    }
}

// ---- The transforms of a block of images, for both tile sizes ----
// The transforms are most of the work besides the GEMMs, so they are compiled for AVX2 and
// AVX-512 as well as for the baseline (NORMGRAD_KERNEL, see isa.hpp): the functions below are the
// entry points into which everything above is inlined. Images [n0, n1); the block's tile t of image
// n is column (n - n0) * TI + t of its GEMM operands, whose rows are ld apart.
struct PixelOffsets;
struct BlockPlanes {
    const ConvGeometry& g;
    const Tiling& T;
    int64_t n0, n1, ld;
    float* scratch;
    const PixelOffsets* offsets = nullptr;  // for the passes across channels
};

template <class F>
NORMGRAD_INLINE void input_transforms(const BlockPlanes& b, const float* x, float* V) {
    const Scratch<F> s(b.T, b.scratch);
    const int64_t C = b.g.C, TI = b.T.tiles(), plane = b.g.H * b.g.W;
    for (int64_t n = b.n0; n < b.n1; ++n)
        for (int64_t c = 0; c < C; ++c)
            input_transform<F>(b.g, b.T, x + (n * C + c) * plane, V + c * b.ld + (n - b.n0) * TI,
                               C * b.ld, s);
}

// ---- The input transform across channels ----
// On the benchmark's 14x14 planes a tile row holds 7 tiles, too few for the vector loops of
// input_transform (which then run mostly as their scalar remainders). When C is a multiple of 8,
// eight channels of an image go through the transform together instead, one channel per lane of
// a v8: the eight planes are interleaved into a zero-padded buffer P[PH][PW][8] (pixel (r, c) of
// the eight channels as one v8), then each tile is 16 v8 loads, the 2-D transform in v8
// additions, and 16 v8 stores. V then holds the tiles "tile-major", V_xi[t][c] (each tile's C
// values together), which the GEMMs read as the transpose of input_transform's V_xi[c][t].
constexpr int64_t kLanes = 8;

// Where each pixel of an input plane goes in the interleaved padded buffer P[PH][PW][8], and
// each pixel of an output plane in Y[m TH][m TW][8]: offsets in floats, the same for every plane
// of a convolution, so computed once per call.
struct PixelOffsets {
    std::vector<int32_t> input, output;
    template <class F>
    static PixelOffsets of(const ConvGeometry& g, const Tiling& T) {
        PixelOffsets o;
        o.input.resize(static_cast<size_t>(g.H * g.W));
        for (int64_t ih = 0; ih < g.H; ++ih)
            for (int64_t iw = 0; iw < g.W; ++iw)
                o.input[size_t(ih * g.W + iw)] =
                    int32_t(((ih + g.padding) * T.PW + iw + g.padding) * kLanes);
        o.output.resize(static_cast<size_t>(g.OH * g.OW));
        for (int64_t oh = 0; oh < g.OH; ++oh)
            for (int64_t ow = 0; ow < g.OW; ++ow)
                o.output[size_t(oh * g.OW + ow)] = int32_t((oh * F::m * T.TW + ow) * kLanes);
        return o;
    }
};

// Eight rows of eight floats r[k][j] -> out[j][k] (an 8x8 transpose in three rounds of
// shuffles: pairs of rows, then pairs of pairs, then halves; __builtin_shufflevector is GCC's and
// Clang's, its indices counting through a's lanes then b's).
NORMGRAD_INLINE void transpose8(const v8* r, v8* out) {
    v8 t[8], s[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = __builtin_shufflevector(r[k], r[k + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[k + 1] = __builtin_shufflevector(r[k], r[k + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int k = 0; k < 8; k += 4)
        for (int h = 0; h < 2; ++h) {
            s[k + 2 * h] =
                __builtin_shufflevector(t[k + h], t[k + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            s[k + 2 * h + 1] =
                __builtin_shufflevector(t[k + h], t[k + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int k = 0; k < 4; ++k) {
        out[k] = __builtin_shufflevector(s[k], s[k + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        out[k + 4] = __builtin_shufflevector(s[k], s[k + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

// Eight planes of `plane` pixels (planes[k * plane + p]) into an interleaved buffer: pixel p of
// the eight at buf + at[p], as one v8.
NORMGRAD_INLINE void interleave(const float* planes, int64_t plane, const int32_t* at, float* buf) {
    constexpr int64_t L = kLanes;
    int64_t p = 0;
    for (; p + L <= plane; p += L) {  // eight pixels of the eight planes at a time
        v8 r[L], q[L];
        for (int64_t k = 0; k < L; ++k) r[k] = load(planes + k * plane + p);
        transpose8(r, q);
        for (int64_t j = 0; j < L; ++j) store(buf + at[p + j], q[j]);
    }
    for (; p < plane; ++p)
        for (int64_t k = 0; k < L; ++k) buf[at[p] + k] = planes[k * plane + p];
}

// The reverse: the eight planes written, or added to with `accumulate`.
NORMGRAD_INLINE void deinterleave(const float* buf, const int32_t* at, int64_t plane, float* planes,
                                  bool accumulate) {
    constexpr int64_t L = kLanes;
    int64_t p = 0;
    for (; p + L <= plane; p += L) {
        v8 r[L], q[L];
        for (int64_t j = 0; j < L; ++j) r[j] = load(buf + at[p + j]);
        transpose8(r, q);
        for (int64_t k = 0; k < L; ++k) {
            float* out = planes + k * plane + p;
            store(out, accumulate ? load(out) + q[k] : q[k]);
        }
    }
    for (; p < plane; ++p)
        for (int64_t k = 0; k < L; ++k) {
            const float v = buf[at[p] + k];
            float& out = planes[k * plane + p];
            out = accumulate ? out + v : v;
        }
}

// One tile into the tile-major buffer: its K x K values of eight channels, rows row_stride v8s
// apart from src, go through a 1-D transform along the width, then one along the height, and
// the alpha x alpha results to o + xi * xi_stride (xi = alpha i + j). The input's transform
// (K = alpha, B^T d B) and the output gradient's (K = m, A dY A^T) are this with their own 1-D
// maps; tile_from_major is the way back (B dV B^T, K = alpha; A^T M A, K = m).
enum class TileMap { input, input_t, output, output_t };
template <class F, TileMap Map>
NORMGRAD_INLINE void transform_1d(const v8* in, v8* out) {
    if constexpr (Map == TileMap::input) F::input(in, out);
    if constexpr (Map == TileMap::input_t) F::input_t(in, out);
    if constexpr (Map == TileMap::output) F::output(in, out);
    if constexpr (Map == TileMap::output_t) F::output_t(in, out);
}
template <class F, TileMap Map>
NORMGRAD_INLINE void tile_to_major(const float* src, int64_t row_stride, float* o,
                                   int64_t xi_stride) {
    constexpr int A = F::alpha, K = Map == TileMap::input ? F::alpha : F::m;
    v8 w[K][A];
    NORMGRAD_UNROLL
    for (int i = 0; i < K; ++i) {  // along the width: row i of the tile
        v8 d[K];
        NORMGRAD_UNROLL
        for (int j = 0; j < K; ++j) d[j] = load(src + (i * row_stride + j) * kLanes);
        transform_1d<F, Map>(d, w[i]);
    }
    NORMGRAD_UNROLL
    for (int j = 0; j < A; ++j) {  // along the height: column j
        v8 col[K], v[A];
        NORMGRAD_UNROLL
        for (int i = 0; i < K; ++i) col[i] = w[i][j];
        transform_1d<F, Map>(col, v);
        NORMGRAD_UNROLL
        for (int i = 0; i < A; ++i) store(o + (i * A + j) * xi_stride, v[i]);
    }
}
// The alpha x alpha values of one tile at src + xi * xi_stride, along the height then along the
// width, into the K x K values res[K * i + j] (row i, column j).
template <class F, TileMap Map>
NORMGRAD_INLINE void tile_from_major(const float* src, int64_t xi_stride, v8* res) {
    constexpr int A = F::alpha, K = Map == TileMap::input_t ? F::alpha : F::m;
    v8 w[K][A];
    NORMGRAD_UNROLL
    for (int j = 0; j < A; ++j) {  // along the height: column j
        v8 col[A], out[K];
        NORMGRAD_UNROLL
        for (int i = 0; i < A; ++i) col[i] = load(src + (i * A + j) * xi_stride);
        transform_1d<F, Map>(col, out);
        NORMGRAD_UNROLL
        for (int i = 0; i < K; ++i) w[i][j] = out[i];
    }
    NORMGRAD_UNROLL
    for (int i = 0; i < K; ++i) transform_1d<F, Map>(w[i], res + K * i);  // along the width
}

template <class F>
NORMGRAD_INLINE void input_transforms_by_channels(const BlockPlanes& b, const float* x, float* V) {
    constexpr int m = F::m;
    constexpr int64_t L = kLanes;
    const ConvGeometry& g = b.g;
    const Tiling& T = b.T;
    const int64_t C = g.C, TI = T.tiles(), plane = g.H * g.W, PW = T.PW;
    const int64_t V_xi = b.ld * C;  // from one position xi of the transformed tiles to the next
    float* P = b.scratch;           // [PH][PW][L]; what lies outside the image stays 0
    zero_row(P, T.PH * PW * L);
    const int32_t* at = b.offsets->input.data();  // where each pixel goes in P
    for (int64_t n = b.n0; n < b.n1; ++n)
        for (int64_t c0 = 0; c0 < C; c0 += L) {
            interleave(x + (n * C + c0) * plane, plane, at, P);
            float* out = V + (n - b.n0) * TI * C + c0;  // tile t's eight values at out + t C
            for (int64_t th = 0; th < T.TH; ++th)
                for (int64_t tw = 0; tw < T.TW; ++tw)
                    tile_to_major<F, TileMap::input>(P + (m * th * PW + m * tw) * L, PW,
                                                     out + (th * T.TW + tw) * C, V_xi);
        }
}

// dx (+)= B dV B^T of every tile, dV tile-major (dV_xi[t][c]): input_transforms_by_channels'
// passes transposed, in reverse order. Each tile's 4x4 window is added into P (the windows
// overlap), then P's pixels inside the image are taken apart again into the eight planes.
template <class F>
NORMGRAD_INLINE void input_transposes_by_channels(const BlockPlanes& b, const float* dV,
                                                  GradBuffer dx) {
    constexpr int m = F::m, A = F::alpha;
    constexpr int64_t L = kLanes;
    const ConvGeometry& g = b.g;
    const Tiling& T = b.T;
    const int64_t C = g.C, TI = T.tiles(), plane = g.H * g.W, PW = T.PW;
    const int64_t V_xi = b.ld * C;
    float* P = b.scratch;  // [PH][PW][L]
    const int32_t* at = b.offsets->input.data();
    for (int64_t n = b.n0; n < b.n1; ++n)
        for (int64_t c0 = 0; c0 < C; c0 += L) {
            zero_row(P, T.PH * PW * L);
            const float* in = dV + (n - b.n0) * TI * C + c0;  // tile t's eight values at in + t C
            for (int64_t th = 0; th < T.TH; ++th)
                for (int64_t tw = 0; tw < T.TW; ++tw) {
                    v8 d[A * A];
                    tile_from_major<F, TileMap::input_t>(in + (th * T.TW + tw) * C, V_xi, d);
                    float* d0 = P + (m * th * PW + m * tw) * L;
                    NORMGRAD_UNROLL
                    for (int i = 0; i < A; ++i)  // the tile's 4x4 window, added
                        NORMGRAD_UNROLL
                    for (int j = 0; j < A; ++j) {
                        float* q = d0 + (i * PW + j) * L;
                        store(q, load(q) + d[A * i + j]);
                    }
                }
            deinterleave(P, at, plane, dx.data + (n * C + c0) * plane, dx.accumulate);
        }
}

// y = A^T M A + bias, M tile-major (M_xi[t][o], O a multiple of 8), eight output channels at a
// time: each tile's 2x2 outputs go into an interleaved buffer Y[m TH][m TW][8], whose pixels
// inside the image are then transposed into the eight output planes.
template <class F>
NORMGRAD_INLINE void output_transforms_by_channels(const BlockPlanes& b, int64_t O, const float* M,
                                                   const float* bias, float* y) {
    constexpr int m = F::m;
    constexpr int64_t L = kLanes;
    const ConvGeometry& g = b.g;
    const Tiling& T = b.T;
    const int64_t TI = T.tiles(), plane = g.OH * g.OW, YW = m * T.TW;
    const int64_t M_xi = b.ld * O;
    float* Y = b.scratch;                          // [m TH][m TW][L]
    const int32_t* at = b.offsets->output.data();  // where each pixel is in Y
    for (int64_t n = b.n0; n < b.n1; ++n)
        for (int64_t o0 = 0; o0 < O; o0 += L) {
            v8 bv = splat(0.f);
            if (bias) bv = load(bias + o0);
            const float* in = M + (n - b.n0) * TI * O + o0;  // tile t's eight values at in + t O
            for (int64_t th = 0; th < T.TH; ++th)
                for (int64_t tw = 0; tw < T.TW; ++tw) {
                    v8 out[m * m];
                    tile_from_major<F, TileMap::output>(in + (th * T.TW + tw) * O, M_xi, out);
                    float* y0 = Y + (m * th * YW + m * tw) * L;
                    NORMGRAD_UNROLL
                    for (int a = 0; a < m; ++a)  // the tile's m x m outputs, plus the bias
                        NORMGRAD_UNROLL
                    for (int c = 0; c < m; ++c) store(y0 + (a * YW + c) * L, out[m * a + c] + bv);
                }
            deinterleave(Y, at, plane, y + (n * O + o0) * plane, false);
        }
}

// dM = A dY A^T, dM tile-major (dM_xi[t][o]), eight output channels at a time: the eight planes
// of dy interleaved into Y (0 beyond the image), then each tile's 2x2 values transformed. Also
// adds each plane of dy to db_share[o] (null: not wanted), as output_transposes does.
template <class F>
NORMGRAD_INLINE void output_transposes_by_channels(const BlockPlanes& b, int64_t O, const float* dy,
                                                   float* dM, double* db_share) {
    constexpr int m = F::m;
    constexpr int64_t L = kLanes;
    const ConvGeometry& g = b.g;
    const Tiling& T = b.T;
    const int64_t TI = T.tiles(), plane = g.OH * g.OW, YW = m * T.TW;
    const int64_t M_xi = b.ld * O;
    float* Y = b.scratch;  // [m TH][m TW][L]; what lies beyond the image stays 0
    zero_row(Y, m * T.TH * YW * L);
    const int32_t* at = b.offsets->output.data();  // where each pixel is in Y
    for (int64_t n = b.n0; n < b.n1; ++n)
        for (int64_t o0 = 0; o0 < O; o0 += L) {
            const float* ys = dy + (n * O + o0) * plane;
            if (db_share)
                for (int64_t k = 0; k < L; ++k) db_share[o0 + k] += row_sum(ys + k * plane, plane);
            interleave(ys, plane, at, Y);
            float* out = dM + (n - b.n0) * TI * O + o0;
            for (int64_t th = 0; th < T.TH; ++th)
                for (int64_t tw = 0; tw < T.TW; ++tw)
                    tile_to_major<F, TileMap::output_t>(Y + (m * th * YW + m * tw) * L, YW,
                                                        out + (th * T.TW + tw) * O, M_xi);
        }
}

// Scratch for the transforms across channels (P for the input's, Y for the output's).
template <class F>
int64_t channel_scratch_floats(const Tiling& T) {
    return std::max(T.PH * T.PW, F::m * T.TH * F::m * T.TW) * kLanes;
}

template <class F>
NORMGRAD_INLINE void input_transposes(const BlockPlanes& b, const float* dV, GradBuffer dx) {
    const Scratch<F> s(b.T, b.scratch);
    const int64_t C = b.g.C, TI = b.T.tiles(), plane = b.g.H * b.g.W;
    for (int64_t n = b.n0; n < b.n1; ++n)
        for (int64_t c = 0; c < C; ++c)
            input_transform_transpose<F>(b.g, b.T, dV + c * b.ld + (n - b.n0) * TI, C * b.ld,
                                         dx.data + (n * C + c) * plane, dx.accumulate, s);
}

template <class F>
NORMGRAD_INLINE void output_transforms(const BlockPlanes& b, int64_t O, const float* M,
                                       const float* bias, float* y) {
    const Scratch<F> s(b.T, b.scratch);
    const int64_t TI = b.T.tiles(), plane = b.g.OH * b.g.OW;
    for (int64_t n = b.n0; n < b.n1; ++n)
        for (int64_t o = 0; o < O; ++o)
            output_transform<F>(b.g, b.T, M + o * b.ld + (n - b.n0) * TI, O * b.ld,
                                bias ? bias[o] : 0.f, y + (n * O + o) * plane, s);
}

// Also adds each plane of dy to db_share[o] (null: not wanted), while it is in cache.
template <class F>
NORMGRAD_INLINE void output_transposes(const BlockPlanes& b, int64_t O, const float* dy, float* dM,
                                       double* db_share) {
    const Scratch<F> s(b.T, b.scratch);
    const int64_t TI = b.T.tiles(), plane = b.g.OH * b.g.OW;
    for (int64_t n = b.n0; n < b.n1; ++n)
        for (int64_t o = 0; o < O; ++o) {
            const float* dyo = dy + (n * O + o) * plane;
            output_transform_transpose<F>(b.g, b.T, dyo, dM + o * b.ld + (n - b.n0) * TI, O * b.ld,
                                          s);
            if (db_share) db_share[o] += row_sum(dyo, plane);
        }
}

// The algorithm used: F(2x2, 3x3). The passes above work for any F(m x m, 3 x 3) given its 1-D
// transforms; F(4x4, 3x3) (4x fewer multiplications instead of 2.25x) was measured slower on
// the benchmark's 14x14 images, its bigger transforms costing more than the products it saves.
using Algorithm = F2;

NORMGRAD_KERNEL_AVX2_ON_AVX512(void, run_input_transforms,
                               (const BlockPlanes& b, const float* x, float* V),
                               input_transforms<Algorithm>, (b, x, V))
NORMGRAD_KERNEL(void, run_input_transforms_by_channels,
                (const BlockPlanes& b, const float* x, float* V),
                input_transforms_by_channels<Algorithm>, (b, x, V))
NORMGRAD_KERNEL(void, run_input_transposes_by_channels,
                (const BlockPlanes& b, const float* dV, GradBuffer dx),
                input_transposes_by_channels<Algorithm>, (b, dV, dx))
NORMGRAD_KERNEL(void, run_output_transforms_by_channels,
                (const BlockPlanes& b, int64_t O, const float* M, const float* bias, float* y),
                output_transforms_by_channels<Algorithm>, (b, O, M, bias, y))
NORMGRAD_KERNEL(void, run_output_transposes_by_channels,
                (const BlockPlanes& b, int64_t O, const float* dy, float* dM, double* db_share),
                output_transposes_by_channels<Algorithm>, (b, O, dy, dM, db_share))
NORMGRAD_KERNEL_AVX2_ON_AVX512(void, run_input_transposes,
                               (const BlockPlanes& b, const float* dV, GradBuffer dx),
                               input_transposes<Algorithm>, (b, dV, dx))
NORMGRAD_KERNEL(void, run_output_transforms,
                (const BlockPlanes& b, int64_t O, const float* M, const float* bias, float* y),
                output_transforms<Algorithm>, (b, O, M, bias, y))
NORMGRAD_KERNEL_AVX2_ON_AVX512(void, run_output_transposes,
                               (const BlockPlanes& b, int64_t O, const float* dy, float* dM,
                                double* db_share),
                               output_transposes<Algorithm>, (b, O, dy, dM, db_share))

// A GEMM operand: a matrix stored as it is (row-major, rows ld apart) or transposed.
struct Operand {
    const float* p;
    bool transposed;
    int64_t ld;
    Operand t() const { return {p, !transposed, ld}; }  // the operand's transpose, same memory
};

// out = a b + beta out, for a [rows x k] and b [k x cols]; out is stored as it is ([rows][cols])
// or transposed ([cols][rows]: then out^T = b^T a^T is computed).
void product(int64_t rows, int64_t cols, int64_t k, Operand a, Operand b, float beta, float* out,
             bool out_transposed) {
    if (!out_transposed)
        gemm_serial(a.transposed, b.transposed, rows, cols, k, 1.f, a.p, a.ld, b.p, b.ld, beta, out,
                    cols);
    else
        gemm_serial(!b.transposed, !a.transposed, cols, rows, k, 1.f, b.p, b.ld, a.p, a.ld, beta,
                    out, rows);
}

// How a block's transformed tiles are laid out: V_xi [C][tiles] and M_xi [O][tiles] as in
// winograd.hpp, or tile-major ([tiles][C], [tiles][O]) where the channels are a multiple of 8
// and the transforms run across channels.
// With them, the pixel offsets of the passes across channels.
template <class F>
struct Layouts {
    bool input, output;    // tile-major
    PixelOffsets offsets;  // (empty when neither is)
    Layouts(const ConvGeometry& g, int64_t O, const Tiling& T)
        : input(g.C % kLanes == 0), output(O % kLanes == 0) {
        if (input || output) offsets = PixelOffsets::of<F>(g, T);
    }
    Operand V(const float* p, int64_t C, int64_t ld) const {  // V_xi as a [C x tiles] matrix
        return input ? Operand{p, true, C} : Operand{p, false, ld};
    }
    Operand M(const float* p, int64_t O, int64_t ld) const {  // M_xi as an [O x tiles] matrix
        return output ? Operand{p, true, O} : Operand{p, false, ld};
    }
    int64_t scratch_floats(const Tiling& T) const {
        return std::max(Scratch<F>::floats(T),
                        input || output ? channel_scratch_floats<F>(T) : int64_t{0});
    }
};

void forward(const ConvGeometry& g, int64_t O, const float* x, const float* w, const float* bias,
             float* y) {
    using F = Algorithm;
    constexpr int XI = F::alpha * F::alpha;  // the positions of a transformed tile
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    const Tiling T = tiling<F>(g, threads);
    const int64_t C = g.C, TI = T.tiles(), ld_max = T.max_images * TI;
    std::vector<float> U(size_t(XI * O * C));
    transform_weights<F>(g, O, w, U.data());
    const Layouts<F> layout(g, O, T);

    // Per thread: V [XI][C][tiles], M [XI][O][tiles] (or tile-major: Layouts), scratch.
    const int64_t per_thread = XI * (C + O) * ld_max + layout.scratch_floats(T);
    const auto work = Storage::make(size_t(per_thread * threads));
#pragma omp parallel num_threads(threads)
    {
        float* V = work->data() + omp_get_thread_num() * per_thread;
        float* M = V + XI * C * ld_max;
        float* scratch = M + XI * O * ld_max;
        const ProductsScope products;  // 16 products a block: the signals held once
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < T.blocks; ++blk) {
            const int64_t n0 = T.first_image(blk, g.N), n1 = T.first_image(blk + 1, g.N);
            const int64_t ld = (n1 - n0) * TI;  // the block's tiles
            const BlockPlanes b{g, T, n0, n1, ld, scratch, &layout.offsets};
            if (layout.input)
                run_input_transforms_by_channels(b, x, V);
            else
                run_input_transforms(b, x, V);
            for (int xi = 0; xi < XI; ++xi)  // M_xi = U_xi V_xi
                product(O, ld, C, {U.data() + xi * O * C, false, C},
                        layout.V(V + xi * C * ld, C, ld), 0.f, M + xi * O * ld, layout.output);
            if (layout.output)
                run_output_transforms_by_channels(b, O, M, bias, y);
            else
                run_output_transforms(b, O, M, bias, y);
        }
    }
}

void backward(const ConvGeometry& g, int64_t O, const float* x, const float* w, const float* dy,
              GradBuffer dw, GradBuffer db, GradBuffer dx) {
    using F = Algorithm;
    constexpr int XI = F::alpha * F::alpha;
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    const Tiling T = tiling<F>(g, threads);
    const int64_t C = g.C, TI = T.tiles(), ld_max = T.max_images * TI;
    std::vector<float> U(size_t(XI * O * C));
    transform_weights<F>(g, O, w, U.data());
    const Layouts<F> layout(g, O, T);

    // Per thread: V [XI][C][tiles] (then dV in its place), dM [XI][O][tiles] (or tile-major:
    // Layouts), its share of dU [XI][O][C], scratch; and its share of db.
    const int64_t per_thread = XI * (C + O) * ld_max + XI * O * C + layout.scratch_floats(T);
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
        float* scratch = dU + XI * O * C;
        std::fill(dU, dU + XI * O * C, 0.f);
        const ProductsScope products;  // 32 products a block: the signals held once
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < T.blocks; ++blk) {
            const int64_t n0 = T.first_image(blk, g.N), n1 = T.first_image(blk + 1, g.N);
            const int64_t ld = (n1 - n0) * TI;
            const BlockPlanes b{g, T, n0, n1, ld, scratch, &layout.offsets};
            double* db_share = db.data ? db_shares.data() + omp_get_thread_num() * O : nullptr;
            if (layout.output)
                run_output_transposes_by_channels(b, O, dy, dM, db_share);
            else
                run_output_transposes(b, O, dy, dM, db_share);
            if (dw.data) {  // dU_xi += dM_xi V_xi^T, V recomputed from x
                if (layout.input)
                    run_input_transforms_by_channels(b, x, V);
                else
                    run_input_transforms(b, x, V);
                for (int xi = 0; xi < XI; ++xi)
                    product(O, C, ld, layout.M(dM + xi * O * ld, O, ld),
                            layout.V(V + xi * C * ld, C, ld).t(), 1.f, dU + xi * O * C, false);
            }
            if (dx.data) {  // dV_xi = U_xi^T dM_xi, then dx = B dV B^T over the windows
                float* dV = V;
                for (int xi = 0; xi < XI; ++xi)
                    product(C, ld, O, Operand{U.data() + xi * O * C, false, C}.t(),
                            layout.M(dM + xi * O * ld, O, ld), 0.f, dV + xi * C * ld, layout.input);
                if (layout.input)
                    run_input_transposes_by_channels(b, dV, dx);
                else
                    run_input_transposes(b, dV, dx);
            }
        }
    }
    if (db.data) add_bias_shares(db_shares, threads, O, db);
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

void winograd_forward(const ConvGeometry& g, int64_t O, const float* x, const float* w,
                      const float* b, float* y) {
    forward(g, O, x, w, b, y);
}

void winograd_backward(const ConvGeometry& g, int64_t O, const float* x, const float* w,
                       const float* dy, GradBuffer dw, GradBuffer db, GradBuffer dx) {
    if (dw.data || db.data || dx.data) backward(g, O, x, w, dy, dw, db, dx);
}

}  // namespace normgrad::kernels
