// The process's communicator: MPI's world under an MPI launcher in a build with MPI, else one
// process; and the check that every rank runs the same program with the same arguments.
#include <fmt/format.h>

#include <cstdlib>
#include <stdexcept>

#include "normgrad/distributed.hpp"
#ifdef NORMGRAD_WITH_MPI
#include "mpi_communicator.hpp"
#endif

namespace normgrad {

namespace {

std::shared_ptr<const Communicator>& current() {
    static std::shared_ptr<const Communicator> comm = local_communicator();
    return comm;
}
#ifdef NORMGRAD_WITH_MPI
bool mpi_started = false;
#endif

// The arguments joined with a separator no argument holds in practice (unit separator).
constexpr char kSeparator = '\x1f';

}  // namespace

bool built_with_mpi() {
#ifdef NORMGRAD_WITH_MPI
    return true;
#else
    return false;
#endif
}

int launched_ranks() {
    for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"})
        if (const char* v = std::getenv(var)) return std::max(1, std::atoi(v));
    if (std::getenv("PMIX_RANK")) return 1;
    return 0;
}

void init_world(int* argc, char*** argv) {
    const int ranks = launched_ranks();
    if (ranks == 0) return;
#ifdef NORMGRAD_WITH_MPI
    current() = distributed::start_mpi(argc, argv);
    mpi_started = true;
#else
    (void)argc;
    (void)argv;
    if (ranks > 1)
        throw std::runtime_error(fmt::format(
            "started by an MPI launcher with {} ranks, but this normgrad was built without MPI "
            "(each rank would train alone): install libopenmpi-dev and rebuild "
            "(scripts/build.sh turns NORMGRAD_MPI on when MPI is found)",
            ranks));
#endif
}

void finalize_world() {
#ifdef NORMGRAD_WITH_MPI
    if (mpi_started) {
        current() = local_communicator();
        distributed::stop_mpi();
        mpi_started = false;
    }
#endif
}

const std::shared_ptr<const Communicator>& world() {
    return current();
}

std::string program_fingerprint(int argc, const char* const* argv) {
    std::string s = fmt::format("normgrad {} (built {} {}{})", NORMGRAD_VERSION, __DATE__, __TIME__,
                                built_with_mpi() ? ", with MPI" : "");
    for (int i = 1; i < argc; ++i) {
        s += kSeparator;
        s += argv[i];
    }
    return s;
}

void check_same_program(const Communicator& comm, const std::string& fingerprint) {
    const std::vector<std::string> all = comm.all_gather(fingerprint);
    const auto split = [](const std::string& f) {
        std::vector<std::string> parts{""};
        for (char ch : f)
            if (ch == kSeparator)
                parts.emplace_back();
            else
                parts.back() += ch;
        return parts;
    };
    const std::vector<std::string> first = split(all[0]);
    std::string differ;
    for (size_t r = 1; r < all.size(); ++r) {
        if (all[r] == all[0]) continue;
        const std::vector<std::string> other = split(all[r]);
        std::string what;
        if (other[0] != first[0])
            what = fmt::format("it runs {}, rank 0 {}", other[0], first[0]);
        else {
            size_t i = 1;
            while (i < other.size() && i < first.size() && other[i] == first[i]) ++i;
            const auto arg = [](const std::vector<std::string>& a, size_t i) {
                return i < a.size() ? fmt::format("'{}'", a[i]) : std::string("nothing");
            };
            what = fmt::format("its argument {} is {} where rank 0 has {}", i, arg(other, i),
                               arg(first, i));
        }
        differ += fmt::format("{}rank {}: {}", differ.empty() ? "" : "; ", r, what);
    }
    if (!differ.empty())
        throw std::invalid_argument(fmt::format(
            "the ranks do not run the same program with the same arguments ({}): every rank "
            "must run one normgrad build with the same flags",
            differ));
}

}  // namespace normgrad
