// What this processor offers and which code normgrad runs on it: the instruction set of
// normgrad's own kernels and the library behind its matrix products. Both are chosen once, at the
// first use, from what the processor reports; a program (or a test) may ask for less.
//
//   NORMGRAD_ISA=baseline|avx2|avx512   the kernels' instruction set (at most what the CPU has)
//   NORMGRAD_GEMM=openblas|onednn       the GEMM library (onednn where it was built in)
//
// A bad value of either variable is refused, naming it, at the first use (normgrad's command
// line checks both before it reads any data).
#pragma once

#include <string>
#include <vector>

namespace normgrad {

// The instruction sets normgrad's kernels are compiled for, each a superset of the one before:
// baseline x86-64 (SSE2), x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512 F, BW, DQ, VL).
enum class Isa { baseline = 0, avx2 = 1, avx512 = 2 };

struct CpuInfo {
    std::string model;         // "Intel(R) Xeon(R) Processor" (/proc/cpuinfo's "model name")
    bool avx2_fma = false;     // x86-64-v3
    bool avx512 = false;       // x86-64-v4
    Isa best = Isa::baseline;  // the most the kernels can use here
};
const CpuInfo& cpu_info();

std::string to_string(Isa isa);          // "baseline", "avx2", "avx512"
Isa parse_isa(const std::string& name);  // throws std::invalid_argument naming the accepted values

// The instruction set the kernels run with now: NORMGRAD_ISA if set, else cpu_info().best.
Isa kernel_isa();
// Runs the kernels with `isa` from now on; throws std::invalid_argument when the processor
// lacks it. Not to be called while other threads run kernels.
void set_kernel_isa(Isa isa);

// The GEMM libraries built into this normgrad ("openblas" always, "onednn" when found at
// configure time), and the one in use: NORMGRAD_GEMM if set, else oneDNN on a processor with
// AVX-512 (measured fastest there, docs/performance.md) and OpenBLAS otherwise.
std::vector<std::string> gemm_libraries();
std::string gemm_library();
void set_gemm_library(const std::string& name);  // throws std::invalid_argument if not built in
// One line for logs and the benchmark:
// "CPU <model> (avx2 avx512); kernels avx512; GEMM onednn (avx512_core_amx)".
std::string kernel_summary();

// Checks NORMGRAD_ISA and NORMGRAD_GEMM now (throws std::invalid_argument naming the variable).
void check_kernel_environment();

}  // namespace normgrad
