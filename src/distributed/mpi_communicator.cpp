// The communicator over MPI (Open MPI from Debian's libopenmpi-dev; MPICH builds the same code):
// MPI_COMM_WORLD, the sums with MPI_Allreduce (and MPI_Iallreduce for the buckets started during
// backward), gathers, a broadcast, a barrier and MPI_Abort. Compiled only with NORMGRAD_MPI.
#include "mpi_communicator.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include <cstdio>
#include <stdexcept>

namespace normgrad::distributed {

namespace {

// An MPI error as an exception (MPI_ERRORS_RETURN is set on the communicator).
void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw std::runtime_error(fmt::format("{} failed: {}", call, std::string(text, size_t(length))));
}

int to_int(size_t n, const char* what) {
    if (n > size_t(INT32_MAX))
        throw std::length_error(
            fmt::format("{}: {} values are more than one MPI call takes", what, n));
    return static_cast<int>(n);
}

class MpiSum final : public PendingSum {
  public:
    MpiSum() = default;
    MPI_Request request = MPI_REQUEST_NULL;
    void wait() override { check(MPI_Wait(&request, MPI_STATUS_IGNORE), "MPI_Wait"); }
    ~MpiSum() override {
        if (request != MPI_REQUEST_NULL) MPI_Wait(&request, MPI_STATUS_IGNORE);
    }
};

class MpiCommunicator final : public Communicator {
  public:
    MpiCommunicator() {
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
        char version[MPI_MAX_LIBRARY_VERSION_STRING];
        int length = 0;
        MPI_Get_library_version(version, &length);
        std::string v(version, size_t(length));
        library_ = v.substr(0, v.find(','));  // "Open MPI v4.1.4"
    }
    int rank() const override { return rank_; }
    int size() const override { return size_; }
    std::string describe() const override {
        return fmt::format("MPI ({}), {} rank{}", library_, size_, size_ == 1 ? "" : "s");
    }
    void all_reduce_sum(std::span<float> v) const override {
        check(MPI_Allreduce(MPI_IN_PLACE, v.data(), to_int(v.size(), "all_reduce_sum"), MPI_FLOAT,
                            MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
    }
    void all_reduce_sum(std::span<double> v) const override {
        check(MPI_Allreduce(MPI_IN_PLACE, v.data(), to_int(v.size(), "all_reduce_sum"), MPI_DOUBLE,
                            MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
    }
    std::unique_ptr<PendingSum> start_all_reduce_sum(std::span<float> v) const override {
        auto sum = std::make_unique<MpiSum>();
        check(MPI_Iallreduce(MPI_IN_PLACE, v.data(), to_int(v.size(), "start_all_reduce_sum"),
                             MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &sum->request),
              "MPI_Iallreduce");
        return sum;
    }
    std::vector<double> all_gather(std::span<const double> mine) const override {
        std::vector<double> all(mine.size() * size_t(size_));
        const int n = to_int(mine.size(), "all_gather");
        check(MPI_Allgather(mine.data(), n, MPI_DOUBLE, all.data(), n, MPI_DOUBLE, MPI_COMM_WORLD),
              "MPI_Allgather");
        return all;
    }
    std::vector<std::string> all_gather(const std::string& mine) const override {
        const int length = to_int(mine.size(), "all_gather");
        std::vector<int> lengths(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
        check(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD),
              "MPI_Allgather");
        size_t total = 0;
        for (size_t r = 0; r < lengths.size(); ++r) {
            offsets[r] = to_int(total, "all_gather");
            total += size_t(lengths[r]);
        }
        std::string all(total, '\0');
        check(MPI_Allgatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(),
                             offsets.data(), MPI_CHAR, MPI_COMM_WORLD),
              "MPI_Allgatherv");
        std::vector<std::string> out;
        for (size_t r = 0; r < lengths.size(); ++r)
            out.push_back(all.substr(size_t(offsets[r]), size_t(lengths[r])));
        return out;
    }
    void broadcast(std::span<float> v, int root) const override {
        check(MPI_Bcast(v.data(), to_int(v.size(), "broadcast"), MPI_FLOAT, root, MPI_COMM_WORLD),
              "MPI_Bcast");
    }
    void barrier() const override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
    [[noreturn]] void abort(const std::string& message, int status) const override {
        std::fflush(stdout);
        fmt::print(stderr, "{}\n", message);
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, status);
        std::_Exit(status);  // MPI_Abort does not return; this is for the compiler
    }

  private:
    int rank_ = 0, size_ = 1;
    std::string library_;
};

}  // namespace

std::shared_ptr<const Communicator> start_mpi(int* argc, char*** argv) {
    int provided = 0;
    check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    return std::make_shared<MpiCommunicator>();
}

void stop_mpi() {
    MPI_Finalize();
}

}  // namespace normgrad::distributed
