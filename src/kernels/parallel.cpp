#include "kernels/parallel.hpp"

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
    kernels::for_ranges(n, work_per_item, 16, body);  // 16 items: a cache line of floats
}

}  // namespace normgrad
