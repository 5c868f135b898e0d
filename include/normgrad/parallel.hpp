// How many threads normgrad uses: OpenBLAS's GEMM and normgrad's own OpenMP loops.
#pragma once

namespace normgrad {

void set_num_threads(int n);  // n >= 1
int num_threads();

}  // namespace normgrad
