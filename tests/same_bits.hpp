// A Catch2 check that an operation gives the same bits at one thread as at two: `run()` computes
// its outputs afresh (named vectors: the values, each gradient) and is called at one thread, then
// at two. Values that differ are counted, not printed: Catch would print every value of a large
// tensor, which for the sizes the threads split takes minutes.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "normgrad/parallel.hpp"

namespace normgrad::testing {

using NamedOutputs = std::vector<std::pair<std::string, std::vector<float>>>;

template <class Run>
void check_same_bits_at_1_and_2_threads(Run run) {
    const int saved = num_threads();
    set_num_threads(1);
    const NamedOutputs one = run();
    set_num_threads(2);
    const NamedOutputs two = run();
    set_num_threads(saved);
    REQUIRE(one.size() == two.size());
    for (size_t k = 0; k < one.size(); ++k) {
        INFO(one[k].first);
        REQUIRE(one[k].second.size() == two[k].second.size());
        int64_t differing = 0;
        for (size_t i = 0; i < one[k].second.size(); ++i)
            differing += one[k].second[i] != two[k].second[i];
        CHECK(differing == 0);
    }
}

}  // namespace normgrad::testing
