// The single-process parts of data-parallel training: how a global batch is shared out, the
// --bn-sync names, and the fingerprint check's messages (with a communicator that pretends to
// gather other ranks' fingerprints). The parts that need ranks are in tests/mpi/.
#include <catch2/catch.hpp>

#include "normgrad/distributed.hpp"
#include "normgrad/train/data_parallel.hpp"

using namespace normgrad;
using namespace normgrad::train;
using Catch::Matchers::Contains;

namespace {

// Rank 0 of a world whose other ranks hold `others`' fingerprints.
class PretendWorld final : public Communicator {
  public:
    explicit PretendWorld(std::vector<std::string> others) : others_(std::move(others)) {}
    int rank() const override { return 0; }
    int size() const override { return int(others_.size()) + 1; }
    std::string describe() const override { return "pretend"; }
    void all_reduce_sum(std::span<float>) const override {}
    void all_reduce_sum(std::span<double>) const override {}
    std::vector<double> all_gather(std::span<const double> mine) const override {
        return {mine.begin(), mine.end()};
    }
    std::vector<std::string> all_gather(const std::string& mine) const override {
        std::vector<std::string> all{mine};
        all.insert(all.end(), others_.begin(), others_.end());
        return all;
    }
    void broadcast(std::span<float>, int) const override {}
    void barrier() const override {}
    [[noreturn]] void abort(const std::string& message, int) const override {
        throw std::logic_error(message);
    }

  private:
    std::vector<std::string> others_;
};

std::string fingerprint(std::vector<const char*> args) {
    args.insert(args.begin(), "normgrad");
    return program_fingerprint(int(args.size()), args.data());
}

}  // namespace

TEST_CASE("rank_slice: contiguous slices covering the batch, sizes differing by at most one",
          "[distributed]") {
    for (const auto& [n, ranks] : {std::pair{128, 2}, {128, 3}, {127, 2}, {8, 5}, {5, 5}}) {
        INFO(n << " images on " << ranks << " ranks");
        int64_t next = 0, smallest = n, largest = 0;
        for (int r = 0; r < ranks; ++r) {
            const Slice s = rank_slice(n, r, ranks);
            CHECK(s.first == next);
            next += s.count;
            smallest = std::min(smallest, s.count);
            largest = std::max(largest, s.count);
        }
        CHECK(next == n);
        CHECK(largest - smallest <= 1);
    }
    CHECK(rank_slice(128, 0, 3).count == 43);
    CHECK(rank_slice(128, 2, 3).count == 42);
    CHECK(rank_slice(128, 2, 3).first == 86);
}

TEST_CASE("the names of --bn-sync: global and local", "[distributed]") {
    CHECK(parse_bn_sync("global") == BnSync::Global);
    CHECK(parse_bn_sync("local") == BnSync::Local);
    CHECK(to_string(parse_bn_sync("local")) == "local");
    CHECK_THROWS_WITH(parse_bn_sync("sync"), Contains("expected global or local"));
}

TEST_CASE("fingerprint check: the same program and arguments pass, a difference is named",
          "[distributed]") {
    const std::string mine = fingerprint({"train", "--lr", "0.05"});
    CHECK_NOTHROW(check_same_program(PretendWorld({mine, mine}), mine));
    CHECK_THROWS_WITH(
        check_same_program(PretendWorld({mine, fingerprint({"train", "--lr", "0.1"})}), mine),
        Contains("rank 2: its argument 3 is '0.1' where rank 0 has '0.05'"));
    CHECK_THROWS_WITH(check_same_program(PretendWorld({fingerprint({"train"})}), mine),
                      Contains("rank 1: its argument 2 is nothing where rank 0 has '--lr'"));
    std::string other_build = mine;
    other_build.replace(0, other_build.find(')'), "normgrad 9.9.9 (built elsewhere");
    CHECK_THROWS_WITH(check_same_program(PretendWorld({other_build}), mine),
                      Contains("rank 1: it runs normgrad 9.9.9 (built elsewhere"));
    CHECK(mine.rfind(std::string("normgrad ") + NORMGRAD_VERSION + " (built ", 0) == 0);
}
