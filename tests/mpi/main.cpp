// The tests that need several ranks, run by ctest under mpirun -np 2 (tests/CMakeLists.txt).
// Every rank runs every test case; mpirun fails when any rank fails. A test case makes the same
// collective calls on every rank and checks with CHECK (not REQUIRE) after them, so that a
// failure on one rank does not leave the other waiting. (Catch2 itself: tests/runner/.)
#include "../runner/catch_session.hpp"
#include "normgrad/distributed.hpp"

int main(int argc, char** argv) {
    normgrad::init_world(&argc, &argv);
    const int status = normgrad::testing::run_catch_session(argc, argv);
    normgrad::finalize_world();
    return status;
}
