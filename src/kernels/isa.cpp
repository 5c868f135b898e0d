// The instruction set the kernels run with (kernels/isa.hpp), and what the processor reports.
#include "kernels/isa.hpp"

#include <cblas.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#if defined(NORMGRAD_WITH_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#endif

namespace normgrad {

namespace {

CpuInfo read_cpu_info() {
    CpuInfo info;
#if defined(__x86_64__)
    __builtin_cpu_init();
    info.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("bmi2");
    // x86-64-v4's AVX-512 subsets; __builtin_cpu_supports also checks that the operating system
    // saves the 512-bit registers.
    info.avx512 = info.avx2_fma && __builtin_cpu_supports("avx512f") &&
                  __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd");
#endif
    info.best = info.avx512 ? Isa::avx512 : info.avx2_fma ? Isa::avx2 : Isa::baseline;
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("model name", 0) != 0) continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos) break;
        info.model = line.substr(line.find_first_not_of(" \t", colon + 1));
        break;
    }
    if (info.model.empty()) info.model = "unknown processor";
    return info;
}

// -1 until the first use reads NORMGRAD_ISA (or takes the processor's best).
std::atomic<int> chosen_isa{-1};

Isa checked(Isa isa, const char* who) {
    if (static_cast<int>(isa) > static_cast<int>(cpu_info().best))
        throw std::invalid_argument(std::string(who) + ": this processor (" + cpu_info().model +
                                    ") has no " + to_string(isa) + "; it offers at most " +
                                    to_string(cpu_info().best));
    return isa;
}

Isa isa_from_environment() {
    const char* v = std::getenv("NORMGRAD_ISA");
    if (!v || !*v) return cpu_info().best;
    try {
        return checked(parse_isa(v), "NORMGRAD_ISA");
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        throw std::invalid_argument(what.rfind("NORMGRAD_ISA", 0) == 0
                                        ? what
                                        : "NORMGRAD_ISA=" + std::string(v) + ": " + what);
    }
}

// The kernels the GEMM library picked on this processor: OpenBLAS's core name (which
// OPENBLAS_CORETYPE can set), oneDNN's instruction set.
std::string gemm_kernels(const std::string& library) {
#if defined(NORMGRAD_WITH_ONEDNN)
    if (library == "onednn") {
        switch (dnnl_get_effective_cpu_isa()) {
            case dnnl_cpu_isa_avx512_core_amx:
                return "avx512_core_amx";
            case dnnl_cpu_isa_avx512_core_bf16:
                return "avx512_core_bf16";
            case dnnl_cpu_isa_avx512_core_vnni:
                return "avx512_core_vnni";
            case dnnl_cpu_isa_avx512_core:
                return "avx512_core";
            case dnnl_cpu_isa_avx2_vnni:
                return "avx2_vnni";
            case dnnl_cpu_isa_avx2:
                return "avx2";
            case dnnl_cpu_isa_avx:
                return "avx";
            case dnnl_cpu_isa_sse41:
                return "sse41";
            default:
                return "isa " + std::to_string(static_cast<int>(dnnl_get_effective_cpu_isa()));
        }
    }
#endif
    (void)library;
    const char* core = openblas_get_corename();
    return core ? core : "unknown";
}

}  // namespace

const CpuInfo& cpu_info() {
    static const CpuInfo info = read_cpu_info();
    return info;
}

std::string to_string(Isa isa) {
    switch (isa) {
        case Isa::avx512:
            return "avx512";
        case Isa::avx2:
            return "avx2";
        default:
            return "baseline";
    }
}

Isa parse_isa(const std::string& name) {
    for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512})
        if (name == to_string(isa)) return isa;
    throw std::invalid_argument("unknown instruction set '" + name +
                                "' (expected baseline, avx2 or avx512)");
}

Isa kernel_isa() {
    int v = chosen_isa.load(std::memory_order_relaxed);
    if (v < 0) {
        v = static_cast<int>(isa_from_environment());
        chosen_isa.store(v, std::memory_order_relaxed);
    }
    return static_cast<Isa>(v);
}

void set_kernel_isa(Isa isa) {
    chosen_isa.store(static_cast<int>(checked(isa, "set_kernel_isa")), std::memory_order_relaxed);
}

std::string kernel_summary() {
    const CpuInfo& cpu = cpu_info();
    std::string flags = cpu.avx512 ? "avx2 avx512" : cpu.avx2_fma ? "avx2, no avx512" : "no avx2";
    const std::string library = gemm_library();
    return "CPU " + cpu.model + " (" + flags + "); kernels " + to_string(kernel_isa()) + "; GEMM " +
           library + " (" + gemm_kernels(library) + ")";
}

void check_kernel_environment() {
    (void)kernel_isa();
    (void)gemm_library();
}

}  // namespace normgrad
