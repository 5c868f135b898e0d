// The test program's main: Catch2 with its command line (Catch2 itself: tests/runner/).
#include "runner/catch_session.hpp"

int main(int argc, char** argv) {
    return normgrad::testing::run_catch_session(argc, argv);
}
