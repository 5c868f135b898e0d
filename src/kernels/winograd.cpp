#include "kernels/winograd.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/gemm.hpp"
#include "kernels/small_gemm.hpp"
#include "normgrad/storage.hpp"

// ---- How the tile transforms are computed ----
// A 2-D transform such as V = B^T d B is a 1-D transform along the width of the tile (d B) and
// one along its height (B^T ...). Done tile by tile that is 16 scattered loads and stores per
// tile. Here each pass runs over many tiles at once, in loops the compiler vectorises:
//   - along the width, one padded input row at a time: tile column tw reads columns
//     2 tw .. 2 tw + 3 of the row; the outputs are stored by row parity (even rows, odd rows);
//   - along the height, all the tiles of a plane at once: the 4 rows 2 th .. 2 th + 3 of tile
//     t = th * TW + tw are rows th and th + 1 of the even and odd width-pass outputs, that is
//     even[t], odd[t], even[t + TW], odd[t + TW]: four streams at fixed offsets from t.
// The output transform and the two backward transforms are the same passes in reverse.
// Positions xi = 4 i + j of a transformed tile: i along the height, j along the width.

namespace normgrad::kernels {

namespace {

struct Tiling {
    int64_t TH, TW;  // output tiles per image: rows, columns (2x2 outputs each)
    int64_t PH, PW;  // the zero-padded input rows the tiles read, and their length
    int64_t tiles() const { return TH * TW; }
    // Blocks of whole images (no two blocks touch the same input pixel), shared among threads.
    int64_t blocks, max_images;
    int64_t first_image(int64_t block, int64_t N) const { return N * block / blocks; }
};

// About this many tiles per block: the block's transformed tiles and products then take a few
// megabytes at most and stay in cache between the transforms and the GEMMs.
constexpr int64_t kTilesPerBlock = 256;

Tiling tiling(const ConvGeometry& g, int threads) {
    Tiling t{};
    t.TH = (g.OH + 1) / 2;
    t.TW = (g.OW + 1) / 2;
    t.PH = 2 * t.TH + 2;
    t.PW = 2 * t.TW + 2;
    const int64_t want = std::max<int64_t>(1, (g.N * t.tiles()) / kTilesPerBlock);
    // A multiple of the thread count, so that the threads get equal shares.
    t.blocks = std::min(g.N, (want + threads - 1) / threads * threads);
    t.max_images = 0;
    for (int64_t b = 0; b < t.blocks; ++b)
        t.max_images = std::max(t.max_images, t.first_image(b + 1, g.N) - t.first_image(b, g.N));
    return t;
}

// One thread's scratch for the transforms of one plane.
struct Scratch {
    float* row;  // one padded row, PW
    float* h;    // width-pass outputs [4 columns j][2 parities][(TH + 1) x TW]
    float* y;    // 4 planes of per-tile values [4][TH x TW]
    int64_t rows, TW;

    static int64_t floats(const Tiling& T) {
        return T.PW + 8 * (T.TH + 1) * T.TW + 4 * T.tiles();
    }
    Scratch(const Tiling& T, float* base) : rows(T.TH + 1), TW(T.TW) {
        row = base;
        h = row + T.PW;
        y = h + 8 * rows * TW;
    }
    float* h_rows(int j, int parity) const { return h + (j * 2 + parity) * rows * TW; }
    float* h_row(int j, int64_t i) const { return h_rows(j, i % 2) + (i / 2) * TW; }
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

// U[xi][o][c] = (G w[o, c] G^T)[xi], with G g = (g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2).
void transform_weights(const ConvGeometry& g, int64_t O, const float* w, float* U) {
    const int64_t OC = O * g.C;
    auto G = [](float g0, float g1, float g2, float* u) {
        u[0] = g0;
        u[1] = 0.5f * (g0 + g1 + g2);
        u[2] = 0.5f * (g0 - g1 + g2);
        u[3] = g2;
    };
    for (int64_t oc = 0; oc < OC; ++oc) {
        const float* k = w + oc * 9;
        float t[4][3], u[4];
        for (int j = 0; j < 3; ++j) {  // along the height: each column of the kernel
            G(k[j], k[3 + j], k[6 + j], u);
            for (int i = 0; i < 4; ++i) t[i][j] = u[i];
        }
        for (int i = 0; i < 4; ++i) {  // along the width: each row
            G(t[i][0], t[i][1], t[i][2], u);
            for (int j = 0; j < 4; ++j) U[(i * 4 + j) * OC + oc] = u[j];
        }
    }
}

// dw[o, c] = G^T dU[o, c] G, with G^T u = (u0 + (u1 + u2) / 2, (u1 - u2) / 2, (u1 + u2) / 2 + u3).
void transform_weights_transpose(const ConvGeometry& g, int64_t O, const float* dU, GradBuffer dw) {
    const int64_t OC = O * g.C;
    auto GT = [](float u0, float u1, float u2, float u3, float* k) {
        k[0] = u0 + 0.5f * (u1 + u2);
        k[1] = 0.5f * (u1 - u2);
        k[2] = 0.5f * (u1 + u2) + u3;
    };
    for (int64_t oc = 0; oc < OC; ++oc) {
        float t[3][4], k[3];
        for (int j = 0; j < 4; ++j) {
            GT(dU[j * OC + oc], dU[(4 + j) * OC + oc], dU[(8 + j) * OC + oc],
               dU[(12 + j) * OC + oc], k);
            for (int i = 0; i < 3; ++i) t[i][j] = k[i];
        }
        float* d = dw.data + oc * 9;
        for (int i = 0; i < 3; ++i) {
            GT(t[i][0], t[i][1], t[i][2], t[i][3], k);
            for (int j = 0; j < 3; ++j) d[i * 3 + j] = dw.accumulate ? d[i * 3 + j] + k[j] : k[j];
        }
    }
}

// V = B^T d B for all the tiles of one input plane x [H, W], into V[xi][t] at v + xi * stride.
// B^T d = (d0 - d2, d1 + d2, d2 - d1, d1 - d3), along the width, then along the height.
void input_transform(const ConvGeometry& g, const Tiling& T, const float* x, float* v,
                     int64_t stride, const Scratch& s) {
    const int64_t TW = T.TW;
    float* p = s.row;
    for (int64_t i = 0; i < T.PH; ++i) {  // along the width, padded row i = ih + padding
        float *h0 = s.h_row(0, i), *h1 = s.h_row(1, i), *h2 = s.h_row(2, i), *h3 = s.h_row(3, i);
        const int64_t ih = i - g.padding;
        if (ih < 0 || ih >= g.H) {  // a row of padding
            for (float* h : {h0, h1, h2, h3}) zero_row(h, TW);
            continue;
        }
        const int64_t right = std::max<int64_t>(0, T.PW - g.padding - g.W);
        zero_row(p, g.padding);
        copy_row(x + ih * g.W, std::min(g.W, T.PW - g.padding), p + g.padding);
        zero_row(p + g.padding + g.W, right);
#pragma omp simd
        for (int64_t tw = 0; tw < TW; ++tw) {
            const float d0 = p[2 * tw], d1 = p[2 * tw + 1], d2 = p[2 * tw + 2], d3 = p[2 * tw + 3];
            h0[tw] = d0 - d2;
            h1[tw] = d1 + d2;
            h2[tw] = d2 - d1;
            h3[tw] = d1 - d3;
        }
    }
    for (int j = 0; j < 4; ++j) {  // along the height, all tiles at once
        const float *e = s.h_rows(j, 0), *o = s.h_rows(j, 1);
        float *v0 = v + j * stride, *v1 = v + (4 + j) * stride, *v2 = v + (8 + j) * stride,
              *v3 = v + (12 + j) * stride;
#pragma omp simd
        for (int64_t t = 0; t < T.tiles(); ++t) {
            const float d0 = e[t], d1 = o[t], d2 = e[t + TW], d3 = o[t + TW];
            v0[t] = d0 - d2;
            v1[t] = d1 + d2;
            v2[t] = d2 - d1;
            v3[t] = d1 - d3;
        }
    }
}

// dx (+)= B dV B^T of every tile, summed where the tiles' windows overlap, for one plane.
// B v = (v0, v1 - v2 + v3, v1 + v2 - v0, -v3): input_transform's passes transposed, in reverse.
void input_transform_transpose(const ConvGeometry& g, const Tiling& T, const float* dv,
                               int64_t stride, float* dx, bool accumulate, const Scratch& s) {
    const int64_t TW = T.TW;
    zero_row(s.h, 8 * s.rows * TW);
    for (int j = 0; j < 4; ++j) {  // along the height
        float *e = s.h_rows(j, 0), *o = s.h_rows(j, 1);
        const float *v0 = dv + j * stride, *v1 = dv + (4 + j) * stride,
                    *v2 = dv + (8 + j) * stride, *v3 = dv + (12 + j) * stride;
#pragma omp simd
        for (int64_t t = 0; t < T.tiles(); ++t) {  // rows 2 th and 2 th + 1
            e[t] += v0[t];
            o[t] += v1[t] - v2[t] + v3[t];
        }
#pragma omp simd
        for (int64_t t = 0; t < T.tiles(); ++t) {  // rows 2 th + 2 and 2 th + 3
            e[t + TW] += v1[t] + v2[t] - v0[t];
            o[t + TW] -= v3[t];
        }
    }
    float* p = s.row;
    for (int64_t ih = 0; ih < g.H; ++ih) {  // along the width (padding rows are dropped)
        const int64_t i = ih + g.padding;
        const float *h0 = s.h_row(0, i), *h1 = s.h_row(1, i), *h2 = s.h_row(2, i),
                    *h3 = s.h_row(3, i);
        zero_row(p, T.PW);
#pragma omp simd
        for (int64_t tw = 0; tw < TW; ++tw) {  // columns 2 tw and 2 tw + 1
            p[2 * tw] += h0[tw];
            p[2 * tw + 1] += h1[tw] - h2[tw] + h3[tw];
        }
#pragma omp simd
        for (int64_t tw = 0; tw < TW; ++tw) {  // columns 2 tw + 2 and 2 tw + 3
            p[2 * tw + 2] += h1[tw] + h2[tw] - h0[tw];
            p[2 * tw + 3] -= h3[tw];
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

// y = A^T M A + bias for all the tiles of one output plane; M[xi][t] at m + xi * stride.
// A^T m = (m0 + m1 + m2, m1 - m2 - m3), along the height, then along the width.
void output_transform(const ConvGeometry& g, const Tiling& T, const float* m, int64_t stride,
                      float bias, float* y, const Scratch& s) {
    const int64_t TW = T.TW, TI = T.tiles();
    float* Y[2][2] = {{s.y, s.y + TI}, {s.y + 2 * TI, s.y + 3 * TI}};  // Y[a][b][t]
    const float* M[16];
    for (int xi = 0; xi < 16; ++xi) M[xi] = m + xi * stride;
#pragma omp simd
    for (int64_t t = 0; t < TI; ++t) {
        float z[2][4];
        for (int j = 0; j < 4; ++j) {
            z[0][j] = M[j][t] + M[4 + j][t] + M[8 + j][t];
            z[1][j] = M[4 + j][t] - M[8 + j][t] - M[12 + j][t];
        }
        for (int a = 0; a < 2; ++a) {
            Y[a][0][t] = z[a][0] + z[a][1] + z[a][2] + bias;
            Y[a][1][t] = z[a][1] - z[a][2] - z[a][3] + bias;
        }
    }
    // Interleave each tile row's two output columns into the image rows, dropping the outputs
    // beyond an odd-sized image.
    const int64_t full = g.OW / 2;  // tiles with both output columns inside
    for (int64_t oh = 0; oh < g.OH; ++oh) {
        const float *y0 = Y[oh % 2][0] + (oh / 2) * TW, *y1 = Y[oh % 2][1] + (oh / 2) * TW;
        float* row = y + oh * g.OW;
#pragma omp simd
        for (int64_t tw = 0; tw < full; ++tw) {
            row[2 * tw] = y0[tw];
            row[2 * tw + 1] = y1[tw];
        }
        if (full < TW) row[2 * full] = y0[full];
    }
}

// dM = A dY A^T for all the tiles of one output-gradient plane dy, into dm + xi * stride.
// A y = (y0, y0 + y1, y0 - y1, -y1): output_transform's passes transposed, in reverse.
void output_transform_transpose(const ConvGeometry& g, const Tiling& T, const float* dy,
                                float* dm, int64_t stride, const Scratch& s) {
    const int64_t TW = T.TW, TI = T.tiles();
    float* Y[2][2] = {{s.y, s.y + TI}, {s.y + 2 * TI, s.y + 3 * TI}};
    // The 2x2 output gradients of each tile, 0 beyond an odd-sized image.
    const int64_t full = g.OW / 2;
    for (int64_t oh = 0; oh < 2 * T.TH; ++oh) {
        float *y0 = Y[oh % 2][0] + (oh / 2) * TW, *y1 = Y[oh % 2][1] + (oh / 2) * TW;
        if (oh >= g.OH) {
            zero_row(y0, TW);
            zero_row(y1, TW);
            continue;
        }
        const float* row = dy + oh * g.OW;
#pragma omp simd
        for (int64_t tw = 0; tw < full; ++tw) {
            y0[tw] = row[2 * tw];
            y1[tw] = row[2 * tw + 1];
        }
        if (full < TW) y0[full] = row[2 * full], y1[full] = 0.f;
    }
    float* D[16];
    for (int xi = 0; xi < 16; ++xi) D[xi] = dm + xi * stride;
#pragma omp simd
    for (int64_t t = 0; t < TI; ++t) {
        float z[2][4];  // along the width: A applied to (dY[a][0], dY[a][1])
        for (int a = 0; a < 2; ++a) {
            const float y0 = Y[a][0][t], y1 = Y[a][1][t];
            z[a][0] = y0;
            z[a][1] = y0 + y1;
            z[a][2] = y0 - y1;
            z[a][3] = -y1;
        }
        for (int j = 0; j < 4; ++j) {  // along the height
            D[j][t] = z[0][j];
            D[4 + j][t] = z[0][j] + z[1][j];
            D[8 + j][t] = z[0][j] - z[1][j];
            D[12 + j][t] = -z[1][j];
        }
    }
}

}  // namespace

bool winograd_supports(const ConvGeometry& g) {
    return g.kH == 3 && g.kW == 3 && g.stride == 1 && g.OH > 0 && g.OW > 0;
}

void winograd_forward(const ConvGeometry& g, int64_t O, const float* x, const float* w,
                      const float* bias, float* y) {
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    const Tiling T = tiling(g, threads);
    const int64_t C = g.C, TI = T.tiles(), ld_max = T.max_images * TI;
    std::vector<float> U(size_t(16 * O * C));
    transform_weights(g, O, w, U.data());

    // Per thread: V [16][C][tiles], M [16][O][tiles], scratch.
    const int64_t per_thread = 16 * (C + O) * ld_max + Scratch::floats(T);
    const auto work = Storage::make(size_t(per_thread * threads));
#pragma omp parallel num_threads(threads)
    {
        float* V = work->data() + omp_get_thread_num() * per_thread;
        float* M = V + 16 * C * ld_max;
        const Scratch scratch(T, M + 16 * O * ld_max);
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < T.blocks; ++blk) {
            const int64_t n0 = T.first_image(blk, g.N), n1 = T.first_image(blk + 1, g.N);
            const int64_t ld = (n1 - n0) * TI;  // the block's tiles
            for (int64_t n = n0; n < n1; ++n)
                for (int64_t c = 0; c < C; ++c)
                    input_transform(g, T, x + (n * C + c) * g.H * g.W, V + c * ld + (n - n0) * TI,
                                    C * ld, scratch);
            for (int xi = 0; xi < 16; ++xi)  // M_xi = U_xi V_xi
                gemm_small_k(O, ld, C, U.data() + xi * O * C, V + xi * C * ld, nullptr,
                             M + xi * O * ld);
            for (int64_t n = n0; n < n1; ++n)
                for (int64_t o = 0; o < O; ++o)
                    output_transform(g, T, M + o * ld + (n - n0) * TI, O * ld,
                                     bias ? bias[o] : 0.f, y + (n * O + o) * g.OH * g.OW,
                                     scratch);
        }
    }
}

void winograd_backward(const ConvGeometry& g, int64_t O, const float* x, const float* w,
                       const float* dy, GradBuffer dw, GradBuffer dx) {
    if (!dw.data && !dx.data) return;
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    const Tiling T = tiling(g, threads);
    const int64_t C = g.C, TI = T.tiles(), ld_max = T.max_images * TI;
    std::vector<float> U(size_t(16 * O * C)), UT(U.size());
    transform_weights(g, O, w, U.data());
    for (int xi = 0; xi < 16; ++xi)  // U_xi^T [C, O], for dV
        for (int64_t o = 0; o < O; ++o)
            for (int64_t c = 0; c < C; ++c) UT[size_t((xi * C + c) * O + o)] = U[size_t((xi * O + o) * C + c)];

    // Per thread: V [16][C][tiles] (then dV in its place), dM [16][O][tiles], its share of
    // dU [16][O][C], scratch.
    const int64_t per_thread = 16 * (C + O) * ld_max + 16 * O * C + Scratch::floats(T);
    const auto work = Storage::make(size_t(per_thread * threads));
    auto share = [&](int thread) { return work->data() + thread * per_thread + 16 * (C + O) * ld_max; };
#pragma omp parallel num_threads(threads)
    {
        float* V = work->data() + omp_get_thread_num() * per_thread;
        float* dM = V + 16 * C * ld_max;
        float* dU = share(omp_get_thread_num());
        const Scratch scratch(T, dU + 16 * O * C);
        std::fill(dU, dU + 16 * O * C, 0.f);
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < T.blocks; ++blk) {
            const int64_t n0 = T.first_image(blk, g.N), n1 = T.first_image(blk + 1, g.N);
            const int64_t ld = (n1 - n0) * TI;
            for (int64_t n = n0; n < n1; ++n)
                for (int64_t o = 0; o < O; ++o)
                    output_transform_transpose(g, T, dy + (n * O + o) * g.OH * g.OW,
                                               dM + o * ld + (n - n0) * TI, O * ld, scratch);
            if (dw.data) {  // dU_xi += dM_xi V_xi^T, V recomputed from x
                for (int64_t n = n0; n < n1; ++n)
                    for (int64_t c = 0; c < C; ++c)
                        input_transform(g, T, x + (n * C + c) * g.H * g.W,
                                        V + c * ld + (n - n0) * TI, C * ld, scratch);
                for (int xi = 0; xi < 16; ++xi)
                    gemm_serial(false, true, O, C, ld, 1.f, dM + xi * O * ld, ld, V + xi * C * ld,
                                ld, 1.f, dU + xi * O * C, C);
            }
            if (dx.data) {  // dV_xi = U_xi^T dM_xi, then dx = B dV B^T over the windows
                float* dV = V;
                for (int xi = 0; xi < 16; ++xi)
                    gemm_small_k(C, ld, O, UT.data() + xi * O * C, dM + xi * O * ld, nullptr,
                                 dV + xi * C * ld);
                for (int64_t n = n0; n < n1; ++n)
                    for (int64_t c = 0; c < C; ++c)
                        input_transform_transpose(g, T, dV + c * ld + (n - n0) * TI, C * ld,
                                                  dx.data + (n * C + c) * g.H * g.W,
                                                  dx.accumulate, scratch);
            }
        }
    }
    if (!dw.data) return;
    // The threads' shares of dU, summed in a fixed order into the first.
    float* dU = share(0);
    for (int t = 1; t < threads; ++t) {
        const float* s = share(t);
        for (int64_t i = 0; i < 16 * O * C; ++i) dU[i] += s[i];
    }
    transform_weights_transpose(g, O, dU, dw);
}

}  // namespace normgrad::kernels
