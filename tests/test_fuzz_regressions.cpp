// Replays every saved fuzz input (the seed corpora in fuzz/corpus/<target>/ and the inputs that
// once crashed a target, in fuzz/regressions/<target>/) through the entry functions the libFuzzer
// targets call, in the ordinary (and the sanitizer) build: each input must be accepted or
// rejected with the documented error (DataError, CheckpointError, CLI::ParseError), and must not
// break an invariant the entry checks. Seeds named ok-* must be accepted, bad-* rejected.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../fuzz/fuzz_entry.hpp"

namespace fs = std::filesystem;
using normgrad::fuzz::Outcome;

namespace {

struct Target {
    const char* name;
    Outcome (*entry)(std::span<const uint8_t>);
};

const Target kTargets[] = {{"idx", normgrad::fuzz::fuzz_idx},
                           {"checkpoint", normgrad::fuzz::fuzz_checkpoint},
                           {"cli", normgrad::fuzz::fuzz_cli},
                           {"arch", normgrad::fuzz::fuzz_arch}};

// Regular files under `dir` (none when it does not exist), sorted, hidden files skipped.
std::vector<fs::path> inputs_in(const fs::path& dir) {
    std::vector<fs::path> out;
    if (!fs::is_directory(dir)) return out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file() && e.path().filename().string().rfind('.', 0) != 0)
            out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE(in.good());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool starts_with(const std::string& s, const char* prefix) {
    return s.rfind(prefix, 0) == 0;
}

}  // namespace

TEST_CASE("fuzz: corpus and regression inputs are accepted or rejected as documented", "[fuzz]") {
    const fs::path root = NORMGRAD_FUZZ_DIR;
    for (const Target& t : kTargets) {
        DYNAMIC_SECTION("target " << t.name) {
            const std::vector<fs::path> corpus = inputs_in(root / "corpus" / t.name);
            const std::vector<fs::path> regressions = inputs_in(root / "regressions" / t.name);
            CHECK(!corpus.empty());
            size_t accepted = 0;
            for (const std::vector<fs::path>* files : {&corpus, &regressions}) {
                for (const fs::path& p : *files) {
                    INFO("input " << p.string());
                    const std::vector<uint8_t> bytes = read_bytes(p);
                    Outcome outcome = Outcome::rejected;
                    REQUIRE_NOTHROW(outcome = t.entry(bytes));
                    const std::string name = p.filename().string();
                    if (starts_with(name, "ok-")) CHECK(outcome == Outcome::accepted);
                    if (starts_with(name, "bad-")) CHECK(outcome == Outcome::rejected);
                    accepted += outcome == Outcome::accepted;
                }
            }
            // The fuzzer should start from inputs that get past the first checks.
            CHECK(accepted > 0);
        }
    }
}

TEST_CASE("fuzz: the command-line input splits at NUL bytes, else at newlines", "[fuzz]") {
    auto cli = [](const std::string& s) {
        return normgrad::fuzz::fuzz_cli({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    };
    CHECK(cli("train\n--epochs\n2") == Outcome::accepted);
    CHECK(cli(std::string("train\0--epochs\0"
                          "2",
                          16)) == Outcome::accepted);
    CHECK(cli("train --epochs 2") == Outcome::rejected);  // one argument, not a sub-command
    CHECK(cli(std::string("eval\0--load\0a\nb", 15)) == Outcome::accepted);
    CHECK(cli("eval\n--load") == Outcome::rejected);
    CHECK(cli("") == Outcome::rejected);  // no sub-command
    CHECK(cli("--help") == Outcome::rejected);
}
