#include "wait_policy.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

namespace normgrad::cli {

bool adapts_threads(int argc, const char* const* argv) {
    if (argc < 2) return false;
    const std::string_view command = argv[1];
    if (command != "train" && command != "compare" && command != "gradnorms") return false;
    // As CLI11 reads the option: "--adapt-threads off" or "--adapt-threads=off". Anything after
    // "--" is not an option.
    bool on = true;
    for (int i = 2; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--") break;
        if (a == "--adapt-threads" && i + 1 < argc) on = std::string_view(argv[++i]) != "off";
        constexpr std::string_view kJoined = "--adapt-threads=";
        if (a.starts_with(kJoined)) on = a.substr(kJoined.size()) != "off";
    }
    return on;
}

void choose_wait_policy(int argc, char** argv) {
    if (std::getenv("OMP_WAIT_POLICY")) return;  // the user's choice, or already started again
    if (adapts_threads(argc, argv)) return;      // libgomp's default; fewer threads when busy
    const char* preload = std::getenv("LD_PRELOAD");
    if (preload && std::strstr(preload, "vgpreload")) return;  // valgrind
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 0) != 0) return;
    execv("/proc/self/exe", argv);
    // Still here: the exec failed (no /proc); carry on with the spinning default.
}

}  // namespace normgrad::cli
