// Communicator: what data-parallel training asks of the processes that train one model together
// (the ranks): sums over every rank, gathers, a broadcast from one rank, a barrier, an abort.
//
// Two implementations: LocalCommunicator, one process alone (rank 0 of 1: every sum is the value
// itself), the default everywhere, so that a build without MPI and every single-process caller
// work unchanged; and MPI's (src/distributed/mpi_communicator.cpp, built with NORMGRAD_MPI),
// which world() returns when the program was started by mpirun (distributed.hpp).
//
// Every call is collective: all ranks must make the same calls, in the same order, with spans of
// the same sizes; a rank that skips one leaves the others waiting. Data-parallel training
// relies on every rank receiving the same bits from a sum, so that the ranks' parameters stay
// identical: the MPI standard advises this of MPI_Allreduce without requiring it; Open MPI's
// algorithms give it (the 2-rank tests compare the ranks' final weights bit for bit).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace normgrad {

// A sum started by Communicator::start_all_reduce_sum, finished by wait().
class PendingSum {
  public:
    virtual ~PendingSum() = default;
    // Returns once the span given to start_all_reduce_sum holds the sum over the ranks.
    virtual void wait() = 0;
};

class Communicator {
  public:
    virtual ~Communicator() = default;
    virtual int rank() const = 0;              // 0 .. size() - 1
    virtual int size() const = 0;              // the number of ranks
    virtual std::string describe() const = 0;  // "one process", "MPI (Open MPI v4.1.4), 2 ranks"

    // values[i] = the sum over the ranks of values[i], on every rank.
    virtual void all_reduce_sum(std::span<float> values) const = 0;
    virtual void all_reduce_sum(std::span<double> values) const = 0;
    // The same, started now and finished by the result's wait(), so that computation can go on
    // meanwhile (the gradient buckets during backward). `values` must stay alive and untouched
    // until then. The default runs the blocking sum at once.
    virtual std::unique_ptr<PendingSum> start_all_reduce_sum(std::span<float> values) const;
    // Every rank's `mine` (all of the same length), in rank order: rank r's at r * mine.size().
    virtual std::vector<double> all_gather(std::span<const double> mine) const = 0;
    // Every rank's string (of any length), in rank order.
    virtual std::vector<std::string> all_gather(const std::string& mine) const = 0;
    // values = root's values, on every rank.
    virtual void broadcast(std::span<float> values, int root = 0) const = 0;
    virtual void barrier() const = 0;
    // Ends every rank at once with exit status `status` (MPI_Abort), after printing `message`
    // on standard error: for a failure on one rank that would leave the others waiting.
    [[noreturn]] virtual void abort(const std::string& message, int status) const = 0;
};

// One process: rank 0 of 1. Sums and gathers return what they are given.
class LocalCommunicator final : public Communicator {
  public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    std::string describe() const override { return "one process"; }
    void all_reduce_sum(std::span<float>) const override {}
    void all_reduce_sum(std::span<double>) const override {}
    std::vector<double> all_gather(std::span<const double> mine) const override {
        return {mine.begin(), mine.end()};
    }
    std::vector<std::string> all_gather(const std::string& mine) const override { return {mine}; }
    void broadcast(std::span<float>, int) const override {}
    void barrier() const override {}
    [[noreturn]] void abort(const std::string& message, int status) const override;
};

// A LocalCommunicator shared by whoever needs one.
const std::shared_ptr<const Communicator>& local_communicator();

}  // namespace normgrad
