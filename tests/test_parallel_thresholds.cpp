// When loops use more than one thread depends on how idle threads wait (kernels/parallel.hpp).
#include <catch2/catch.hpp>
#include <cstdlib>

#include "kernels/parallel.hpp"

using normgrad::kernels::parallel_thresholds;
using normgrad::kernels::parallel_thresholds_for;

TEST_CASE("parallel thresholds: higher where idle threads sleep", "[threads]") {
    const auto spinning = parallel_thresholds_for(nullptr);
    const auto passive = parallel_thresholds_for("PASSIVE");
    CHECK(spinning.elements == 32768);
    CHECK(spinning.macs_per_thread == 262144);
    CHECK(passive.elements == 262144);
    CHECK(passive.macs_per_thread == 2097152);
    // libgomp takes the value in any case, with spaces around it; anything else spins.
    CHECK(parallel_thresholds_for("passive").elements == passive.elements);
    CHECK(parallel_thresholds_for("Passive").macs_per_thread == passive.macs_per_thread);
    CHECK(parallel_thresholds_for("ACTIVE").elements == spinning.elements);
    CHECK(parallel_thresholds_for("").elements == spinning.elements);
    CHECK(parallel_thresholds_for(" passive\t").elements == passive.elements);
    CHECK(parallel_thresholds_for("passiv").elements == spinning.elements);
    CHECK(parallel_thresholds_for("pas sive").elements == spinning.elements);
}

TEST_CASE("parallel thresholds: this process's follow its OMP_WAIT_POLICY", "[threads]") {
    const auto want = parallel_thresholds_for(std::getenv("OMP_WAIT_POLICY"));
    CHECK(parallel_thresholds().elements == want.elements);
    CHECK(parallel_thresholds().macs_per_thread == want.macs_per_thread);
}
