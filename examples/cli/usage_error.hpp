// The error of a command line that cannot run: a flag value out of range, a file that is not
// what the flag expects, flags that contradict each other. main.cpp reports it in one line with
// exit status 2.
#pragma once

#include <stdexcept>

namespace normgrad::cli {

class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

}  // namespace normgrad::cli
