// How many threads normgrad uses: OpenBLAS's GEMM and normgrad's own OpenMP loops.
#pragma once

#include <cstdint>
#include <functional>

namespace normgrad {

void set_num_threads(int n);  // n >= 1
int num_threads();

// Calls body(first, last) on ranges that cover [0, n) once, one contiguous range per thread of
// num_threads(), when the loop is big enough to pay for starting the threads: n * work_per_item
// at least the element count from which normgrad's own elementwise loops share their work (it
// depends on how idle threads wait, src/kernels/parallel.hpp); otherwise body(0, n) on the calling
// thread, as also inside a parallel region. Ranges start at multiples of 16 items (a cache line of
// floats). For loops whose items are independent, so that any split gives the same result: the
// optimizers' updates and the conversion of a batch's images. body must not throw (it may run
// on an OpenMP thread, where an exception would end the program).
void parallel_ranges(int64_t n, int64_t work_per_item,
                     const std::function<void(int64_t first, int64_t last)>& body);

}  // namespace normgrad

namespace normgrad {

// Denormal floats (below 1.2e-38) flushed to zero and read as zero (x86's FTZ and DAZ bits),
// on the calling thread and on every thread of the OpenMP team of num_threads(), as
// torch.set_flush_denormal(True) does. Off by default. A network whose signal vanishes (a
// deep plain MLP at PyTorch's initialisation) otherwise spends most of its time in the
// processor's slow path for denormal arithmetic; the values lost are below 1.2e-38. Threads
// started later inherit the mode of the thread that starts them (Linux copies the floating-point
// environment); threads already running get it only here, so call it after set_num_threads.
// Returns false where the processor has no such mode (nothing changed).
bool set_flush_denormals(bool on);

}  // namespace normgrad
