#include "kernels/parallel.hpp"

#include <omp.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

#include "normgrad/parallel.hpp"

namespace normgrad::kernels {

ParallelThresholds parallel_thresholds_for(const char* wait_policy) {
    // As libgomp reads the variable: any case, spaces before and after ignored.
    std::string policy = wait_policy ? wait_policy : "";
    const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
    while (!policy.empty() && space(policy.back())) policy.pop_back();
    policy.erase(policy.begin(), std::find_if_not(policy.begin(), policy.end(), space));
    for (char& c : policy) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (policy == "passive") return {int64_t{1} << 18, int64_t{1} << 21};  // threads sleep
    return {int64_t{1} << 15, int64_t{1} << 18};                           // threads spin
}

const ParallelThresholds& parallel_thresholds() {
    static const ParallelThresholds thresholds =
        parallel_thresholds_for(std::getenv("OMP_WAIT_POLICY"));
    return thresholds;
}

}  // namespace normgrad::kernels

namespace normgrad {

void parallel_ranges(int64_t n, int64_t work_per_item,
                     const std::function<void(int64_t first, int64_t last)>& body) {
    const int threads = num_threads();
    constexpr int64_t kGrain = 16;
    if (threads == 1 || n < 2 * kGrain || n * work_per_item < kernels::min_parallel_elements() ||
        omp_in_parallel()) {
        if (n > 0) body(0, n);
        return;
    }
    const int64_t grains = (n + kGrain - 1) / kGrain;
    const int parts = static_cast<int>(std::min<int64_t>(threads, grains));
#pragma omp parallel for schedule(static) num_threads(parts)
    for (int64_t k = 0; k < parts; ++k) {
        const int64_t first = std::min(n, grains * k / parts * kGrain);
        const int64_t last = std::min(n, grains * (k + 1) / parts * kGrain);
        if (first < last) body(first, last);
    }
}

}  // namespace normgrad
