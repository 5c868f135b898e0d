// When normgrad's own loops use more than one thread.
//
// Starting an OpenMP parallel region costs time, so a loop only pays for it when it has enough
// work: at two threads a loop of W microseconds saves W / 2 and costs the region's start. That
// cost depends on how idle threads wait (bench/region_cost.sh, docs/results/region-cost.md):
//   - spinning (libgomp's default, OMP_WAIT_POLICY=ACTIVE): a microsecond or two;
//   - sleeping (OMP_WAIT_POLICY=PASSIVE, which the command line sets): each region wakes the
//     sleeping thread, about 50 to 60 microseconds on the AMD EPYC virtual machine measured. In
//     three runs a loop over 32 K floats took 6.6 to 12 times as long on two threads there as on
//     one, and the simplest loop (one max a float) was level only from half a million to a
//     million floats on.
// So where threads sleep, loops start sharing 8 times later: elementwise loops from 256 K
// elements (most loops under this threshold do more than one operation per element; at 1 M the
// LayerNorm ResNet's normalisations, 800 K values each, ran on one thread and three runs were
// no faster), and products from 2 M multiply-adds per thread (about 40 us at one core's
// speed). The policy is read from OMP_WAIT_POLICY, as libgomp reads it, once.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace normgrad::kernels {

struct ParallelThresholds {
    int64_t elements;         // elementwise loops from this many elements on
    int64_t macs_per_thread;  // matrix products from this many multiply-adds per thread on
};

// The thresholds for a value of OMP_WAIT_POLICY (null: unset): passive (any case) or spinning.
ParallelThresholds parallel_thresholds_for(const char* wait_policy);

// Those of this process, from its OMP_WAIT_POLICY at the first call.
const ParallelThresholds& parallel_thresholds();

inline int64_t min_parallel_elements() {
    return parallel_thresholds().elements;
}

// f(first, last) on ranges that cover [0, n) once: one contiguous range per thread when
// n * work_per_item reaches min_parallel_elements() and n holds two grains or more; otherwise
// f(0, n) on the calling thread, as also inside a parallel region. Ranges start at multiples of
// `grain` items. For loops whose items are independent, so that any split gives the same result
// (normgrad::parallel_ranges is this for the levels above, which cannot include this header).
template <class F>
void for_ranges(int64_t n, int64_t work_per_item, int64_t grain, F f) {
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads == 1 || n < 2 * grain || n * work_per_item < min_parallel_elements()) {
        if (n > 0) f(int64_t{0}, n);
        return;
    }
    const int64_t grains = (n + grain - 1) / grain;
    const int parts = static_cast<int>(std::min<int64_t>(threads, grains));
#pragma omp parallel for schedule(static) num_threads(parts)
    for (int k = 0; k < parts; ++k) {
        const int64_t first = std::min(n, grains * k / parts * grain);
        const int64_t last = std::min(n, grains * (k + 1) / parts * grain);
        if (first < last) f(first, last);
    }
}

}  // namespace normgrad::kernels
