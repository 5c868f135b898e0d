// What an OpenMP parallel region costs here, against the work it shares: an elementwise loop
// (y = max(x, 0)) over N floats, repeated, on one thread and on two, under the OMP_WAIT_POLICY
// of the environment. Prints a Markdown table row per N: microseconds per loop, one and two
// threads. Run by bench/region_cost.sh under both policies (src/kernels/parallel.hpp's
// thresholds come from it).
// Usage: region_cost [N ...]   (default 8192 32768 131072 262144 524288 1048576 2097152)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

double microseconds_per_loop(std::vector<float>& x, std::vector<float>& y, int threads) {
    const auto n = static_cast<long>(x.size());
    // About 0.2 s of work per measurement, at least 200 loops.
    const long reps = std::max(200L, 400'000'000L / std::max(n, 1L));
    const auto t0 = std::chrono::steady_clock::now();
    for (long r = 0; r < reps; ++r) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f;
        x[r % n] += 1e-7f;  // so that no loop can be skipped
    }
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::micro>(t1 - t0).count() / double(reps);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<long> sizes;
    for (int i = 1; i < argc; ++i) {
        char* end = nullptr;
        const long n = std::strtol(argv[i], &end, 10);
        if (*end != '\0' || n < 1) {
            std::fprintf(stderr,
                         "region_cost: '%s' is not a count of floats (a whole number >= 1)\n",
                         argv[i]);
            return 2;
        }
        sizes.push_back(n);
    }
    if (sizes.empty()) sizes = {8192, 32768, 131072, 262144, 524288, 1048576, 2097152};
    const char* policy = std::getenv("OMP_WAIT_POLICY");
    for (long n : sizes) {
        std::vector<float> x(static_cast<size_t>(n), 1.f), y(static_cast<size_t>(n));
        microseconds_per_loop(x, y, 2);  // the second thread started
        const double one = microseconds_per_loop(x, y, 1);
        const double two = microseconds_per_loop(x, y, 2);
        std::printf("| %s | %ld | %.1f | %.1f |\n", policy ? policy : "unset", n, one, two);
    }
}
