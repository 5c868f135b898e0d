// The normgrad command-line program: train, eval, compare, gradnorms, recalibrate, fold.
//
// Exit status: 0 done; 1 failed while working (a damaged file, a diverged run, out of memory);
// 2 refused before any work (a flag, a path, a data set or a checkpoint that does not fit);
// 130 stopped by SIGINT, SIGTERM or SIGHUP (before the first training step: nothing written;
// after it: a checkpoint to resume from).
//
// Under mpirun (distributed.hpp), `train` runs on every rank: the ranks first check that they
// run the same program with the same arguments; rank 0 alone prints on standard output; a
// failure on any rank ends every rank at once (MPI_Abort), with the failing rank's message,
// rather than leaving the others waiting.
#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <new>

#include "command_line.hpp"
#include "normgrad/activity.hpp"
#include "normgrad/cpu.hpp"
#include "normgrad/distributed.hpp"
#include "normgrad/files.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/storage.hpp"
#include "usage_error.hpp"
#include "wait_policy.hpp"

namespace {

// MPI_Finalize however main returns.
struct FinalizeWorld {
    ~FinalizeWorld() { normgrad::finalize_world(); }
};

}  // namespace

int main(int argc, char** argv) {
    normgrad::cli::choose_wait_policy(argc, argv);  // may start the program again (wait_policy.hpp)
    normgrad::install_stop_handlers();
    try {
        normgrad::init_world(&argc, &argv);
    } catch (const std::exception& e) {
        fmt::print(stderr, "normgrad: {}\n", e.what());
        return 2;
    }
    const FinalizeWorld finalize;
    try {
        normgrad::check_kernel_environment();  // NORMGRAD_ISA, NORMGRAD_GEMM
    } catch (const std::exception& e) {
        fmt::print(stderr, "normgrad: {}\n", e.what());
        return 2;
    }
    const normgrad::Communicator& comm = *normgrad::world();
    const bool root = comm.rank() == 0;
    if (comm.size() > 1) {
        try {
            normgrad::check_same_program(comm, normgrad::program_fingerprint(argc, argv));
        } catch (const std::exception& e) {
            if (root) fmt::print(stderr, "normgrad: {}\n", e.what());
            return 2;
        }
        if (!root && !std::freopen("/dev/null", "w", stdout)) return 1;
    }
    normgrad::cli::ParsedCommandLine parsed;
    try {
        parsed = normgrad::cli::parse_command_line(argc, argv, std::cout, std::cerr);
    } catch (const normgrad::cli::UsageError& e) {
        if (root) fmt::print(stderr, "normgrad: {}\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        fmt::print(stderr, "normgrad: error: {}\n", e.what());
        return 1;
    }
    if (!parsed.run) {  // --help, --version, or a usage error
        if (!parsed.error.empty() && root) fmt::print(stderr, "{}\n", parsed.error);
        return parsed.exit_status;
    }
    const std::string& sub = parsed.subcommand;
    if (comm.size() > 1 && sub != "train") {
        if (root)
            fmt::print(stderr,
                       "normgrad {}: runs on one process; only train runs on several ranks "
                       "(started on {})\n",
                       sub, comm.describe());
        return 2;
    }
    const std::string who =
        "normgrad " + sub +
        (comm.size() > 1 ? fmt::format(" (rank {} of {})", comm.rank(), comm.size()) : "");
    // One process: the message and the status. Several: every rank ends now (the others may be
    // waiting for this one in a collective).
    auto report = [&](const std::string& message, int status) {
        std::fflush(stdout);
        if (comm.size() > 1) comm.abort(fmt::format("{}: {}", who, message), status);
        fmt::print(stderr, "{}: {}\n", who, message);
        return status;
    };
    try {
        return parsed.run();
    } catch (const normgrad::cli::UsageError& e) {
        return report(e.what(), 2);
    } catch (const normgrad::StopRequested& e) {
        return report(e.what(), 130);
    } catch (const std::bad_alloc& e) {
        const std::string where = normgrad::failed_activity();
        const auto* oom = dynamic_cast<const normgrad::OutOfMemory*>(&e);
        return report(fmt::format("out of memory while {}{}", where.empty() ? "running" : where,
                                  oom ? fmt::format(" ({})", oom->what()) : ""),
                      1);
    } catch (const std::exception& e) {
        return report(fmt::format("error: {}", e.what()), 1);
    }
}
