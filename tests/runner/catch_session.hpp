// Runs Catch2 on the program's test cases with its command line (catch_impl.cpp: Catch2's
// implementation, which declares Catch::Session, is compiled there alone).
#pragma once

namespace normgrad::testing {
int run_catch_session(int argc, char** argv);
}
