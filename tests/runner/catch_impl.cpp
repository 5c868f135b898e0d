// Catch2's implementation, compiled once for both test programs (normgrad_tests and, with MPI,
// normgrad_mpi_tests): most of a minute of compiler time in each build otherwise. Each program
// has its own main (tests/main.cpp, tests/mpi/main.cpp), which calls run_catch_session.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "catch_session.hpp"

int normgrad::testing::run_catch_session(int argc, char** argv) {
    return Catch::Session().run(argc, argv);
}
