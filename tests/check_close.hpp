// A Catch2 check that two float vectors agree to a relative tolerance (fixture.hpp's
// compare_close), naming what is compared and reporting where they differ.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "fixture.hpp"

namespace normgrad::testing {

inline void check_close(const std::vector<float>& got, const std::vector<float>& want,
                        const std::string& what, double rtol) {
    const auto r = compare_close(got, want, rtol);
    INFO(what << ": " << r.report);
    CHECK(r.ok);
}

}  // namespace normgrad::testing
