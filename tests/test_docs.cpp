// Numbers quoted in the documents are the output of the commands that make them.
#include <catch2/catch.hpp>
#include <fstream>
#include <string>

namespace {

std::string read(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    REQUIRE(f);
    return {std::istreambuf_iterator<char>(f), {}};
}

}  // namespace

TEST_CASE("docs: the README's Performance section is bench/results.md", "[docs]") {
    // bench/bench.py writes bench/results.md and copies it, less its title line, into the README
    // between these markers; a hand edit of either, or a rerun that did not update the README,
    // shows here.
    const std::string root = NORMGRAD_SOURCE_DIR;
    const std::string readme = read(root + "/README.md");
    const std::string begin = "<!-- bench/results.md begins -->\n";
    const size_t a = readme.find(begin), b = readme.find("<!-- bench/results.md ends -->");
    REQUIRE(a != std::string::npos);
    REQUIRE(b != std::string::npos);
    std::string results = read(root + "/bench/results.md");
    if (results.rfind("# ", 0) == 0) results.erase(0, results.find('\n') + 1);
    while (!results.empty() && results[0] == '\n') results.erase(0, 1);
    while (results.size() > 1 && results[results.size() - 1] == '\n' &&
           results[results.size() - 2] == '\n')
        results.pop_back();
    CHECK(readme.substr(a + begin.size(), b - a - begin.size()) == results);
}
