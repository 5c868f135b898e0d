// libFuzzer target: see fuzz_entry.hpp and scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "fuzz_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    normgrad::fuzz::fuzz_arch({data, size});
    return 0;
}
