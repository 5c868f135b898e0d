// compare's table and verdict: the steps shown follow the run (up to a blow-up), cells say why a
// number is missing, and the verdict is built from the runs' own numbers.
#include <catch2/catch.hpp>

#include <cmath>

#include "normgrad/train/compare.hpp"

using namespace normgrad::train;
using Catch::Matchers::Contains;

namespace {

// A run of `steps` steps whose loss and gradient norm are 1, 2, 3, ... (the last one infinite
// when it diverged there).
RunRecord fake_run(const std::string& label, int64_t steps, bool diverged,
                   std::vector<std::string> layers = {"fc1"}) {
    RunRecord r;
    r.label = label;
    r.tag = label;
    r.layers = std::move(layers);
    for (int64_t s = 1; s <= steps; ++s) {
        const double v = diverged && s == steps ? INFINITY : double(s);
        r.steps.push_back({s, 1, v, v,
                           std::vector<double>(r.layers.size(), diverged && s == steps ? NAN : 0.5),
                           std::vector<double>(r.layers.size(), 0.25)});
    }
    if (diverged) {
        r.diverged_step = steps;
        r.diverged_value = "loss";
    }
    r.test_accuracy = diverged ? 0.101 : 0.9712;
    return r;
}

CompareResult fake(std::vector<RunRecord> runs, std::vector<int64_t> at = {}) {
    CompareResult r;
    r.config.at_steps = std::move(at);
    r.runs = std::move(runs);
    for (const auto& run : r.runs)
        for (const auto& l : run.layers)
            if (std::find(r.layers.begin(), r.layers.end(), l) == r.layers.end())
                r.layers.push_back(l);
    return r;
}

}  // namespace

TEST_CASE("compare: the table shows every step up to an early blow-up", "[compare]") {
    const auto r =
        fake({fake_run("off", 4, true), fake_run("on", 100, false, {"fc1", "bn1"})}, {10});
    CHECK(table_steps(r) == std::vector<int64_t>{1, 2, 3, 4, 10, 100});
    const std::string t = format_table(r);
    INFO(t);
    CHECK_THAT(t, Contains("step 4") && Contains("step 10"));
    // At the diverged step the loss is what it became, unmeasured layers say so; after it the
    // run has stopped; a layer a run lacks is n/a.
    CHECK_THAT(
        t, Contains("inf|") && Contains("diverged|") && Contains("stopped|") && Contains("n/a|"));
    CHECK_THAT(t, Contains("first non-finite step: 4"));
}

TEST_CASE("compare: a late blow-up gets the first steps, doubling steps and the last two",
          "[compare]") {
    const auto r = fake({fake_run("off", 40, true), fake_run("on", 469, false)});
    CHECK(table_steps(r) == std::vector<int64_t>{1, 2, 3, 6, 12, 24, 39, 40, 469});
    const auto quiet = fake({fake_run("off", 469, false), fake_run("on", 469, false)}, {10, 100});
    CHECK(table_steps(quiet) == std::vector<int64_t>{1, 10, 100, 469});
}

TEST_CASE("compare: the verdict is built from the runs' numbers", "[compare]") {
    const auto r = fake({fake_run("no normalisation", 5, true), fake_run("BatchNorm", 100, false)});
    const std::string v = verdict(r);
    INFO(v);
    CHECK_THAT(v, Contains("no normalisation: diverged. step 1: loss 1, gradient norm 1; step 2: "
                           "loss 2, gradient norm 2;"));
    CHECK_THAT(v, Contains("step 5: loss inf, gradient norm inf; the loss became non-finite at "
                           "step 5. Test accuracy 10.10%."));
    CHECK_THAT(v, Contains("BatchNorm: trained all 100 steps; the loss went from 1 to 100, the "
                           "global gradient norm stayed between 1 and 100. Test accuracy 97.12%."));
    // Many steps before the blow-up: the first three and the last three.
    const std::string late = verdict(fake({fake_run("off", 30, true)}));
    CHECK_THAT(late, Contains("step 3: loss 3") && Contains(", ...; step 28: loss 28") &&
                         !Contains("step 4:"));
}
