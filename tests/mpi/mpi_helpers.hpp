// What the MPI tests share.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "normgrad/distributed.hpp"

namespace normgrad::mpi_testing {

// The largest |a - b| / max(1, |b|).
inline double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return INFINITY;
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i)
        worst = std::max(
            worst, std::abs(double(a[i]) - double(b[i])) / std::max(1.0, std::abs(double(b[i]))));
    return worst;
}

// These tests are written for two ranks.
inline const Communicator& two_ranks() {
    const Communicator& comm = *world();
    if (comm.size() != 2) FAIL("run with mpirun -np 2 (started with " << comm.size() << ")");
    return comm;
}

}  // namespace normgrad::mpi_testing
