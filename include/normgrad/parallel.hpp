// How many threads normgrad uses: OpenBLAS's GEMM and normgrad's own OpenMP loops.
#pragma once

namespace normgrad {

void set_num_threads(int n);  // n >= 1
int num_threads();

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
