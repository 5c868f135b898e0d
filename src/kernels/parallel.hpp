// When normgrad's own loops use more than one thread.
//
// An OpenMP parallel region costs a few microseconds to start, so a loop only pays for it when it
// has enough work: elementwise loops from kMinParallelElements elements on (128 KB of floats,
// tens of microseconds of memory traffic), everything else by an estimate of its own.
#pragma once

#include <cstdint>

namespace normgrad::kernels {

inline constexpr int64_t kMinParallelElements = int64_t{1} << 15;

}  // namespace normgrad::kernels
