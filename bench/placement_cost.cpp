// placement_cost: what a training step costs at two threads by where the host has put them.
//
// On a virtual machine the host moves its virtual CPUs between physical cores. Two OpenMP
// threads then sit, from one second to the next, on cores that share a cache (a cache line goes
// from one to the other and back in about 50 ns here) or on cores that do not (about 330 ns),
// and the two-thread runs of the mlp took either about 0.5 s or about 1.0 s an epoch, against
// 0.85 s at one thread. This program shows that link inside one run: it trains a preset in
// chunks of steps, times a cache-line round trip between the two worker threads before each
// chunk (1000 round trips, under a millisecond), runs the chunk at two threads, then the same
// number of steps at one thread, and sorts the chunks by the round trip ("near" below
// --near-ns, "far" above). For each class it prints the steps and their mean seconds at two
// threads, split into forward (with the batch), backward and update, and the one-thread steps
// of the same moments beside them.
//
//   placement_cost --model mlp|cnn --batchnorm on|off [--chunks N] [--chunk K] [--near-ns NS]
//                  [--data DIR]
//   placement_cost --probe      the round trip alone, the median of 5 of 1000 round trips, as
//                               {"round_trip_ns":N} (bench/bench.py runs it around each of
//                               normgrad's two-thread runs); null where this process may run
//                               on one CPU only
//
// Same model and optimizer as the benchmark (batch 128, SGD lr 0.05, momentum 0.9;
// preset_training.hpp), without the gradient statistics and the log. Prints one JSON line per
// class and one for every chunk's round trip (ns) in order, so that the host's changes can be
// seen.
#include <fmt/format.h>
#include <omp.h>
#include <sched.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "flags.hpp"  // examples/cli/flags.hpp, the command line's flags
#include "normgrad/autograd.hpp"
#include "normgrad/ops.hpp"
#include "normgrad/optim.hpp"
#include "normgrad/parallel.hpp"
#include "preset_training.hpp"

using namespace normgrad;

namespace {

struct Options {
    std::string model = "mlp", batchnorm = "off", data = "data/mnist";
    int64_t chunks = 200, chunk = 10;
    double near_ns = 250.0;
    bool probe = false;
};

// The flags, declared as the command line's (examples/cli/flags.hpp: each number with its
// range); a mistake prints CLI11's message naming the flag and exits with 2.
Options parse(int argc, char** argv) {
    using normgrad::cli::add_int, normgrad::cli::add_real;
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    Options o;
    CLI::App app{"placement_cost: a two-thread training step's cost by where the threads are"};
    app.add_flag("--probe", o.probe, "print the round trip alone, as {\"round_trip_ns\":N}");
    app.add_option("--model", o.model, "the preset")->check(CLI::IsMember({"mlp", "cnn"}));
    app.add_option("--batchnorm", o.batchnorm, "with BatchNorm")
        ->check(CLI::IsMember({"on", "off"}));
    add_int(&app, "--chunks", o.chunks, 1, kMax, "chunks of steps");
    add_int(&app, "--chunk", o.chunk, 1, kMax, "steps a chunk");
    add_real(&app, "--near-ns", o.near_ns, {1.0, std::numeric_limits<double>::infinity()},
             "near below this round trip (ns)");
    app.add_option("--data", o.data, "the MNIST folder");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int status = app.exit(e);  // prints the help, or the error
        std::exit(status == 0 ? 0 : 2);
    }
    return o;
}

// Nanoseconds for a cache line to go from OpenMP thread 0 to thread 1 and back, the mean of
// `trips` round trips (each thread waits, spinning, for the other's write).
double round_trip_ns(int trips) {
    alignas(64) std::atomic<int> flag{0};
    double ns = 0.0;
#pragma omp parallel num_threads(2)
    {
        const int me = omp_get_thread_num();
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < trips; ++i) {
            if (me == 0) {
                flag.store(2 * i + 1, std::memory_order_release);
                while (flag.load(std::memory_order_acquire) != 2 * i + 2) {
                }
            } else {
                while (flag.load(std::memory_order_acquire) != 2 * i + 1) {
                }
                flag.store(2 * i + 2, std::memory_order_release);
            }
        }
        if (me == 0)
            ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0)
                     .count() /
                 trips;
    }
    return ns;
}

int cpus_of_this_process() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return CPU_COUNT(&set);
}

struct Phases {
    double forward = 0, backward = 0, update = 0;
    int64_t steps = 0;
    void add(const Phases& p) {
        forward += p.forward, backward += p.backward, update += p.update, steps += p.steps;
    }
    std::string json() const {
        const double n = double(std::max<int64_t>(steps, 1));
        return fmt::format(
            "{{\"steps\":{},\"seconds\":{:.6f},\"forward\":{:.6f},\"backward\":{:.6f},"
            "\"update\":{:.6f}}}",
            steps, (forward + backward + update) / n, forward / n, backward / n, update / n);
    }
};

}  // namespace

int main(int argc, char** argv) try {
    const Options o = parse(argc, argv);
    set_num_threads(2);
    // Two threads spinning on one core would each wait out the other's time slice.
    if (cpus_of_this_process() < 2) {
        if (o.probe) {
            fmt::print("{{\"round_trip_ns\":null}}\n");
            return 0;
        }
        throw std::runtime_error("this process may run on one CPU only: no two threads to place");
    }
    if (o.probe) {
        std::vector<double> probes;
        for (int i = 0; i < 5; ++i) probes.push_back(round_trip_ns(1000));
        std::sort(probes.begin(), probes.end());
        fmt::print("{{\"round_trip_ns\":{:.0f}}}\n", probes[2]);
        return 0;
    }
    const Dataset train_set = load_mnist_split(o.data, true);

    bench::PresetTraining run(o.model, o.batchnorm == "on", train_set);
    auto& model = run.model();
    Sgd& opt = run.optimizer();
    int64_t step = 0;
    using Clock = std::chrono::steady_clock;
    auto seconds = [](Clock::time_point a, Clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    };
    auto run_steps = [&](int64_t n) {
        Phases p;
        for (int64_t i = 0; i < n; ++i, ++step) {
            run.begin_step(step);
            const auto t0 = Clock::now();
            const train::Batch bt = run.batch();
            Tensor loss = cross_entropy(model(bt.images), bt.labels);
            (void)loss.item();
            const auto t1 = Clock::now();
            opt.zero_grad();
            autograd::backward(loss);
            const auto t2 = Clock::now();
            opt.step();
            const auto t3 = Clock::now();
            p.forward += seconds(t0, t1), p.backward += seconds(t1, t2);
            p.update += seconds(t2, t3), ++p.steps;
        }
        return p;
    };

    run_steps(20);          // warm-up: the buffers' first allocations
    Phases two[2], one[2];  // [0] near, [1] far
    std::vector<double> trips;
    for (int64_t c = 0; c < o.chunks; ++c) {
        set_num_threads(2);
        const double ns = round_trip_ns(1000);
        trips.push_back(ns);
        const int far = ns >= o.near_ns;
        two[far].add(run_steps(o.chunk));
        set_num_threads(1);
        one[far].add(run_steps(o.chunk));
    }
    for (int far = 0; far < 2; ++far)
        fmt::print(
            "{{\"model\":\"{}\",\"batchnorm\":\"{}\",\"placement\":\"{}\",\"near_ns\":{},"
            "\"chunks\":{},\"two_threads\":{},\"one_thread\":{}}}\n",
            o.model, o.batchnorm, far ? "far" : "near", o.near_ns, two[far].steps / o.chunk,
            two[far].json(), one[far].json());
    std::string list;
    for (double ns : trips) list += fmt::format("{}{:.0f}", list.empty() ? "" : ",", ns);
    fmt::print("{{\"round_trip_ns\":[{}]}}\n", list);
    return 0;
} catch (const std::exception& e) {
    fmt::print(stderr, "placement_cost: {}\n", e.what());
    return 1;
}
