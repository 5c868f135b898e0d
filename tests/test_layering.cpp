// The README's rule, checked on the sources: dependencies point one way,
//   tensor <- autograd <- ops <- layers <- optim <- train <- programs,
// so no file includes a header of a higher level, and no headers include each other in a loop
// (#pragma once makes such a loop compile, in an order that depends on who is included first).
// The CMake targets (core, layers, optim, train) keep the links one way; they cannot see an
// include, since every target has the whole include/ folder on its path.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

// Each file's level is that of the longest prefix of its path in this table. The first rows
// are the folders a file of the library lands in by default; the later ones take out what
// belongs higher. A new folder of the library has to be placed here (the test says so).
const std::vector<std::pair<std::string, int>> kLevels = {
    // 0 tensor: the tensor, its storage and shapes, random numbers, the kernels, I/O, the
    //   processor, threads and ranks: nothing here knows the tape.
    {"src/", 0},
    {"include/normgrad/", 0},
    // 1 autograd: the tape and the hooks that observe it.
    {"src/autograd.cpp", 1},
    {"include/normgrad/autograd.hpp", 1},
    {"include/normgrad/hooks.hpp", 1},
    // 2 ops: the differentiable operations, and the gradient check that runs them.
    {"src/ops/", 2},
    {"include/normgrad/ops/", 2},
    {"include/normgrad/ops.hpp", 2},
    {"src/gradcheck.cpp", 2},
    {"include/normgrad/gradcheck.hpp", 2},
    // 3 layers: Module and the layers, and their registry.
    {"layers/", 3},
    {"include/normgrad/layers/", 3},
    {"include/normgrad/layers.hpp", 3},
    {"include/normgrad/module.hpp", 3},
    {"include/normgrad/layer_registry.hpp", 3},
    // 4 optim
    {"optim/", 4},
    {"include/normgrad/optim.hpp", 4},
    // 5 train
    {"train/", 5},
    {"include/normgrad/train/", 5},
    // 6 the programs built on all of it
    {"examples/", 6},
    {"bench/", 6},
    {"fuzz/", 6},
};
const char* const kLevelNames[] = {"tensor", "autograd", "ops",     "layers",
                                   "optim",  "train",    "programs"};

// A level's name; -1 (a file outside every row of kLevels, such as a test's header) has none.
const char* level_name(int level) {
    return level < 0 ? "no level" : kLevelNames[level];
}

int level_of(const std::string& path) {
    int level = -1;
    size_t longest = 0;
    for (const auto& [prefix, l] : kLevels)
        if (path.rfind(prefix, 0) == 0 && prefix.size() >= longest) {
            longest = prefix.size();
            level = l;
        }
    return level;
}

bool is_source(const fs::path& p) {
    const std::string e = p.extension().string();
    return e == ".cpp" || e == ".hpp" || e == ".h" || e == ".cc";
}

struct Include {
    std::string target;  // path from the root
    int line;
};

// The files of this tree that `path` includes: "normgrad/..." and <normgrad/...> from
// include/, "kernels/..." and "ops/..." from src/ (the library's private include folder), any
// other quoted name beside the including file. System headers and names that are no file here
// are left out.
std::vector<Include> includes_of(const fs::path& root, const std::string& path) {
    static const std::regex quoted(R"(^\s*#\s*include\s*"([^"]+)\")");
    static const std::regex angled(R"(^\s*#\s*include\s*<(normgrad/[^>]+)>)");
    std::ifstream f(root / path);
    std::vector<Include> out;
    std::string text;
    for (int line = 1; std::getline(f, text); ++line) {
        if (text.find("include") == std::string::npos) continue;  // most lines: no regex
        std::smatch m;
        std::vector<std::string> candidates;
        if (std::regex_search(text, m, angled)) {
            candidates = {"include/" + m[1].str()};
        } else if (std::regex_search(text, m, quoted)) {
            const std::string name = m[1].str();
            const std::string beside = (fs::path(path).parent_path() / name).string();
            candidates = {beside, "include/" + name, "src/" + name};
        }
        for (const std::string& c : candidates)
            if (fs::is_regular_file(root / c)) {
                out.push_back({fs::path(c).lexically_normal().string(), line});
                break;
            }
    }
    return out;
}

std::map<std::string, std::vector<Include>> include_graph(const fs::path& root) {
    std::map<std::string, std::vector<Include>> graph;
    for (const char* folder :
         {"src", "include", "layers", "optim", "train", "examples", "bench", "fuzz"})
        for (const auto& e : fs::recursive_directory_iterator(root / folder))
            if (e.is_regular_file() && is_source(e.path())) {
                const std::string path = fs::relative(e.path(), root).generic_string();
                graph[path] = includes_of(root, path);
            }
    return graph;
}

// One loop of includes among the files, as "a -> b -> ... -> a", or "" when there is none.
std::string find_loop(const std::map<std::string, std::vector<Include>>& graph) {
    std::map<std::string, int> state;  // 1 on the path being walked, 2 done
    std::vector<std::string> path;
    std::string loop;
    std::function<bool(const std::string&)> walk = [&](const std::string& f) {
        state[f] = 1;
        path.push_back(f);
        const auto it = graph.find(f);
        if (it != graph.end())
            for (const Include& inc : it->second) {
                if (state[inc.target] == 1) {
                    auto start = std::find(path.begin(), path.end(), inc.target);
                    for (; start != path.end(); ++start) loop += *start + " -> ";
                    loop += inc.target;
                    return true;
                }
                if (state[inc.target] == 0 && walk(inc.target)) return true;
            }
        path.pop_back();
        state[f] = 2;
        return false;
    };
    for (const auto& entry : graph)
        if (state[entry.first] == 0 && walk(entry.first)) break;
    return loop;
}

}  // namespace

TEST_CASE("layering: no file includes a header of a higher level, and includes make no loop",
          "[layering]") {
    const fs::path root = NORMGRAD_SOURCE_DIR;
    const auto graph = include_graph(root);
    REQUIRE(graph.size() > 100);  // the tree was found
    int edges = 0;
    for (const auto& [file, includes] : graph) {
        const int from = level_of(file);
        INFO(file << ": placed at no level; add its folder to kLevels in tests/test_layering.cpp");
        REQUIRE(from >= 0);
        for (const Include& inc : includes) {
            const int to = level_of(inc.target);
            ++edges;
            INFO(file << ":" << inc.line << " (" << level_name(from) << ") includes " << inc.target
                      << " (" << level_name(to) << ")");
            CHECK(to <= from);
        }
    }
    CHECK(edges > 300);  // includes were read
    CHECK(find_loop(graph) == "");
}

TEST_CASE("layering: the level table and the include reader see what they should", "[layering]") {
    // The rule's own parts, on paths whose level and includes are known.
    CHECK(level_of("src/tensor.cpp") == 0);
    CHECK(level_of("src/kernels/gemm.cpp") == 0);
    CHECK(level_of("src/autograd.cpp") == 1);
    CHECK(level_of("src/ops/conv2d.cpp") == 2);
    CHECK(level_of("include/normgrad/ops/conv2d.hpp") == 2);
    CHECK(level_of("include/normgrad/layers/conv2d.hpp") == 3);
    CHECK(level_of("include/normgrad/train/trainer.hpp") == 5);
    CHECK(level_of("examples/cli/main.cpp") == 6);
    CHECK(level_of("tests/test_layering.cpp") == -1);
    const fs::path root = NORMGRAD_SOURCE_DIR;
    // layers/dense.cpp includes a header beside it, a public one and one of
    // include/normgrad/layers/.
    std::set<std::string> dense;
    for (const Include& inc : includes_of(root, "layers/dense.cpp")) dense.insert(inc.target);
    CHECK(dense.count("layers/init.hpp") == 1);
    CHECK(dense.count("include/normgrad/layer_registry.hpp") == 1);
    CHECK(dense.count("include/normgrad/layers/dense.hpp") == 1);
    // src/ops/conv2d.cpp includes the private kernels/ headers from src/.
    std::set<std::string> conv;
    for (const Include& inc : includes_of(root, "src/ops/conv2d.cpp")) conv.insert(inc.target);
    CHECK(conv.count("src/kernels/winograd.hpp") == 1);
    // A loop is found: a made-up graph a -> b -> c -> a.
    std::map<std::string, std::vector<Include>> g{
        {"a", {{"b", 1}}}, {"b", {{"c", 1}}}, {"c", {{"a", 1}}}, {"d", {{"a", 1}}}};
    CHECK(find_loop(g) == "a -> b -> c -> a");
    g["c"].clear();
    CHECK(find_loop(g) == "");
}
