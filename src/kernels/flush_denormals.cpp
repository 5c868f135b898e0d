#include <omp.h>

#include "normgrad/parallel.hpp"

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

namespace normgrad {

bool set_flush_denormals(bool on) {
#if defined(__SSE2__)
    // MXCSR bit 15: flush results to zero (FTZ); bit 6: denormal inputs are zero (DAZ). The
    // register is per thread, so every thread of the team sets its own.
    constexpr unsigned kBits = 0x8040;
#pragma omp parallel num_threads(omp_get_max_threads())
    {
        const unsigned csr = _mm_getcsr();
        _mm_setcsr(on ? (csr | kBits) : (csr & ~kBits));
    }
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? (csr | kBits) : (csr & ~kBits));
    return true;
#else
    (void)on;
    return false;
#endif
}

}  // namespace normgrad
