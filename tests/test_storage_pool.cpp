// The buffer pool's rule (src/storage.cpp) and Storage::KeepBuffers (storage.hpp).
#include <catch2/catch.hpp>
#include <cstddef>
#include <memory>

#include "normgrad/storage.hpp"

using normgrad::Storage;

namespace {

constexpr size_t kBig = size_t{1} << 21, kSmall = size_t{1} << 19;  // floats: 8 MB and 2 MB

// What a forward pass without a tape does: two big buffers, one alive at a time after the
// second is made, then a smaller one while neither is alive. Returns the pool's misses.
size_t one_pass() {
    const size_t before = Storage::buffers_allocated();
    auto a = Storage::make(kBig);
    auto b = Storage::make(kBig);
    a.reset();
    b.reset();
    auto c = Storage::make(kSmall);  // free: two big buffers; in use: nothing
    c.reset();
    return Storage::buffers_allocated() - before;
}

}  // namespace

TEST_CASE("storage pool: a miss releases the free buffers when they outweigh those in use",
          "[storage]") {
    Storage::release_cached();
    const size_t base = Storage::bytes_reserved();  // buffers other tests still hold
    CHECK(one_pass() == 3);
    // The small buffer's miss released both big ones: only it is left.
    CHECK(Storage::bytes_reserved() - base == kSmall * sizeof(float));
    // So the same pass misses all three again every time (its first miss releases the small
    // buffer, its last the two big ones): each pass maps its buffers afresh.
    CHECK(one_pass() == 3);
    CHECK(one_pass() == 3);
    // A repeated pattern whose free buffers never outweigh those in use hits every time.
    auto held = Storage::make(4 * kBig);
    CHECK(one_pass() == 3);
    CHECK(one_pass() == 0);
    CHECK(one_pass() == 0);
    held.reset();
    Storage::release_cached();
}

TEST_CASE("storage pool: inside KeepBuffers a pass reuses its buffers", "[storage]") {
    Storage::release_cached();
    const size_t base = Storage::bytes_reserved();
    {
        const Storage::KeepBuffers keep;
        CHECK(one_pass() == 3);
        for (int i = 0; i < 5; ++i) CHECK(one_pass() == 0);
        {
            const Storage::KeepBuffers nested;  // scopes nest
            CHECK(one_pass() == 0);
        }
        CHECK(one_pass() == 0);
        CHECK(Storage::bytes_reserved() - base == (2 * kBig + kSmall) * sizeof(float));
    }
    // After the scope the rule applies again: the pass's first miss releases the free buffers.
    auto other = Storage::make(kSmall / 2);
    CHECK(Storage::bytes_reserved() - base == (kSmall / 2) * sizeof(float));
    other.reset();
    Storage::release_cached();
}

TEST_CASE("storage pool: a scope's first miss gives back what a loop of other sizes left",
          "[storage]") {
    Storage::release_cached();
    const size_t base = Storage::bytes_reserved();
    {  // a training step of another shape: two big buffers, free at its end
        auto a = Storage::make(kBig + 16);
        auto b = Storage::make(kBig + 16);
    }
    CHECK(Storage::bytes_reserved() - base == 2 * (kBig + 16) * sizeof(float));
    {
        const Storage::KeepBuffers keep;
        CHECK(one_pass() == 3);
        // The first miss released the step's two buffers; the pass's own three stay.
        CHECK(Storage::bytes_reserved() - base == (2 * kBig + kSmall) * sizeof(float));
        CHECK(one_pass() == 0);
    }
    Storage::release_cached();
}
