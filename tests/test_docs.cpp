// Numbers and code quoted in the documents are the output of the commands and the files they name.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

std::string read(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    REQUIRE(f);
    return {std::istreambuf_iterator<char>(f), {}};
}

}  // namespace

TEST_CASE("docs: the README's Performance sections are bench/results-KIND.md", "[docs]") {
    // bench/bench.py writes bench/results-KIND.md (KIND the machine kind: avx512, avx2) and copies
    // it, less its title line, into the README between that kind's markers; a hand edit of
    // either, or a rerun that did not update the README, shows here. Every such file has its
    // section, so that no figure is left out of the README or shown under another kind.
    const std::string root = NORMGRAD_SOURCE_DIR;
    const std::string readme = read(root + "/README.md");
    int sections = 0;
    for (const std::string kind : {"avx512", "avx2", "baseline"}) {
        const std::string name = "bench/results-" + kind + ".md";
        if (!std::filesystem::exists(root + "/" + name)) continue;
        INFO(name);
        const std::string begin = "<!-- " + name + " begins -->\n";
        const size_t a = readme.find(begin), b = readme.find("<!-- " + name + " ends -->");
        REQUIRE(a != std::string::npos);
        REQUIRE(b != std::string::npos);
        std::string results = read(root + "/" + name);
        if (results.rfind("# ", 0) == 0) results.erase(0, results.find('\n') + 1);
        while (!results.empty() && results[0] == '\n') results.erase(0, 1);
        while (results.size() > 1 && results[results.size() - 1] == '\n' &&
               results[results.size() - 2] == '\n')
            results.pop_back();
        CHECK(readme.substr(a + begin.size(), b - a - begin.size()) == results);
        // and the kind the report says it was measured on is the one its name gives
        CHECK(results.find("Machine kind: **" + kind + "**") != std::string::npos);
        ++sections;
    }
    CHECK(sections >= 1);
}

TEST_CASE("docs: the README's normalisation table is docs/results/norm-accuracy.md's", "[docs]") {
    // scripts/norm-accuracy.sh writes the file and copies its table between these markers.
    const std::string root = NORMGRAD_SOURCE_DIR;
    const std::string readme = read(root + "/README.md");
    const std::string begin = "<!-- norm-accuracy begin -->\n";
    const size_t a = readme.find(begin), b = readme.find("<!-- norm-accuracy end -->");
    REQUIRE(a != std::string::npos);
    REQUIRE(b != std::string::npos);
    const std::string results = read(root + "/docs/results/norm-accuracy.md");
    const size_t t = results.find("\n| model |");
    REQUIRE(t != std::string::npos);
    const std::string table = results.substr(t + 1);
    CHECK(table.size() > 200);  // a header and rows, not an empty block
    CHECK(readme.substr(a + begin.size(), b - a - begin.size()) == table);
}

namespace {

// The code blocks of `doc` that follow a line "<!-- quoted from PATH ... -->", with their PATH.
std::vector<std::pair<std::string, std::string>> quotes(const std::string& doc) {
    std::vector<std::pair<std::string, std::string>> out;
    const std::string marker = "<!-- quoted from ", fence = "```";
    for (size_t at = doc.find(marker); at != std::string::npos; at = doc.find(marker, at + 1)) {
        const size_t path_begin = at + marker.size();
        const std::string path =
            doc.substr(path_begin, doc.find_first_of(" \n", path_begin) - path_begin);
        const size_t line_end = doc.find('\n', at);
        REQUIRE(line_end != std::string::npos);
        // The block must start on the next line: a quote separated from its marker is no quote.
        INFO("the quote of " << path << " must start on the line after its marker");
        REQUIRE(doc.compare(line_end + 1, fence.size(), fence) == 0);
        const size_t body = doc.find('\n', line_end + 1) + 1;
        const size_t end = doc.find("\n" + fence, body);
        REQUIRE(end != std::string::npos);
        out.emplace_back(path, doc.substr(body, end + 1 - body));
    }
    return out;
}

}  // namespace

namespace {

// README.md and every Markdown file of docs/ and docs/studies/.
std::vector<std::string> all_docs(const std::string& root) {
    std::vector<std::string> out{"README.md"};
    for (const char* dir : {"docs", "docs/studies"}) {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(root + "/" + dir, ec))
            if (e.path().extension() == ".md")
                out.push_back(std::string(dir) + "/" + e.path().filename().string());
    }
    return out;
}

}  // namespace

TEST_CASE("docs: code quoted from a source file is that file's, line for line", "[docs]") {
    // A block under "<!-- quoted from PATH -->" must be whole consecutive lines of PATH, so that
    // editing the code without the document (or the document alone) shows here.
    const std::string root = NORMGRAD_SOURCE_DIR;
    std::vector<std::string> quoted;
    for (const std::string& doc_name : all_docs(root)) {
        for (const auto& [path, code] : quotes(read(root + "/" + doc_name))) {
            INFO(doc_name << " quotes " << path << ":\n" << code);
            const std::string source = "\n" + read(root + "/" + path);
            CHECK(source.find("\n" + code) != std::string::npos);
            quoted.push_back(doc_name + ": " + path);
        }
    }
    // The quotes this test exists for (so that it cannot pass by finding none).
    for (const char* expected : {"docs/batchnorm.md: tests/composed_batch_norm.hpp",
                                 "docs/batchnorm.md: docs/results/compare-explode.txt",
                                 "docs/extending.md: layers/layer_norm.cpp",
                                 "docs/extending.md: include/normgrad/layers/layer_norm.hpp"}) {
        INFO("expected a quote: " << expected);
        CHECK(std::find(quoted.begin(), quoted.end(), expected) != quoted.end());
    }
}

namespace {

std::vector<std::string> words(const std::string& line, const char* separators) {
    std::vector<std::string> out;
    for (size_t b = line.find_first_not_of(separators); b != std::string::npos;) {
        const size_t e = line.find_first_of(separators, b);
        out.push_back(line.substr(b, e - b));
        b = e == std::string::npos ? e : line.find_first_not_of(separators, e);
    }
    return out;
}

}  // namespace

TEST_CASE("docs: a table of figures is what its command printed", "[docs]") {
    // A Markdown table under "<!-- figures from PATH -->": every row after the header, read as
    // its cells, must be a line of PATH read as its words (the command's output as
    // scripts/presets.sh saved it), so that a rerun with other numbers shows here.
    const std::string root = NORMGRAD_SOURCE_DIR;
    const std::string marker = "<!-- figures from ";
    int tables = 0;
    for (const std::string& name : all_docs(root)) {
        const std::string doc = read(root + "/" + name);
        for (size_t at = doc.find(marker); at != std::string::npos; at = doc.find(marker, at + 1)) {
            const size_t p = at + marker.size();
            const std::string path = doc.substr(p, doc.find_first_of(" \n", p) - p);
            std::vector<std::vector<std::string>> lines;
            {
                std::istringstream in(read(root + "/" + path));
                for (std::string l; std::getline(in, l);) lines.push_back(words(l, " \t"));
            }
            std::istringstream table(doc.substr(doc.find('\n', at) + 1));
            int rows = 0;
            for (std::string l; std::getline(table, l) && !l.empty() && l[0] == '|';) {
                if (l.find("---") != std::string::npos || rows++ == 0) continue;  // header, rule
                const auto cells = words(l, "| ");
                INFO(name << " quotes " << path << ": " << l);
                CHECK(std::find(lines.begin(), lines.end(), cells) != lines.end());
            }
            CHECK(rows > 2);
            ++tables;
        }
    }
    CHECK(tables >= 2);  // the two depth sweeps
}

namespace {

// The measured-looking numbers of a paragraph of prose: those with a decimal point or a per cent
// sign, and integers of two digits or more, outside `code` spans (where formulas and commands
// go: `ln(0.01) / ln(0.9) = 44` is arithmetic, not a measurement).
std::vector<std::string> prose_numbers(const std::string& paragraph) {
    std::vector<std::string> out;
    bool code = false;
    for (size_t i = 0; i < paragraph.size();) {
        const char c = paragraph[i];
        if (c == '`') {
            code = !code, ++i;
            continue;
        }
        const bool starts =
            std::isdigit(static_cast<unsigned char>(c)) &&
            (i == 0 || !(std::isalnum(static_cast<unsigned char>(paragraph[i - 1])) ||
                         paragraph[i - 1] == '.' || paragraph[i - 1] == '_'));
        if (code || !starts) {
            ++i;
            continue;
        }
        size_t e = i;
        while (e < paragraph.size() &&
               (std::isdigit(static_cast<unsigned char>(paragraph[e])) ||
                (paragraph[e] == '.' && e + 1 < paragraph.size() &&
                 std::isdigit(static_cast<unsigned char>(paragraph[e + 1])))))
            ++e;
        if (e < paragraph.size() && paragraph[e] == '%') ++e;
        const std::string n = paragraph.substr(i, e - i);
        if (n.find_first_of(".%") != std::string::npos || n.size() >= 2) out.push_back(n);
        i = e;
    }
    return out;
}

// `n` stands in `text` as a number of its own (not inside a longer one).
bool has_number(const std::string& text, const std::string& n) {
    for (size_t at = text.find(n); at != std::string::npos; at = text.find(n, at + 1)) {
        const auto digitish = [](char c) {
            return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
        };
        const bool before_ok = at == 0 || !digitish(text[at - 1]);
        const size_t end = at + n.size();
        const bool after_ok =
            end >= text.size() || !(std::isdigit(static_cast<unsigned char>(text[end])) ||
                                    (text[end] == '.' && end + 1 < text.size() &&
                                     std::isdigit(static_cast<unsigned char>(text[end + 1]))));
        if (before_ok && after_ok) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("docs: the numbers of a paragraph of prose are its command's output", "[docs]") {
    // A paragraph under "<!-- numbers from PATH -->" (up to the next blank line) may only cite
    // measured-looking numbers that the file holds, so that a rerun with other numbers, or a
    // figure typed by hand, shows here.
    const std::string root = NORMGRAD_SOURCE_DIR;
    const std::string marker = "<!-- numbers from ";
    int paragraphs = 0;
    for (const std::string& name : all_docs(root)) {
        const std::string doc = read(root + "/" + name);
        for (size_t at = doc.find(marker); at != std::string::npos; at = doc.find(marker, at + 1)) {
            const size_t p = at + marker.size();
            const std::string path = doc.substr(p, doc.find_first_of(" \n", p) - p);
            const std::string source = read(root + "/" + path);
            const size_t begin = doc.find('\n', at) + 1;
            const size_t end = doc.find("\n\n", begin);
            const std::string paragraph = doc.substr(begin, end - begin);
            const auto numbers = prose_numbers(paragraph);
            INFO(name << ": the paragraph after the marker for " << path << ":\n" << paragraph);
            CHECK(!numbers.empty());
            for (const std::string& n : numbers) {
                INFO("the number " << n << " is not in " << path);
                CHECK(has_number(source, n));
            }
            ++paragraphs;
        }
    }
    CHECK(paragraphs >= 1);
}

TEST_CASE("docs: the prose-number reader finds what it should", "[docs]") {
    CHECK(prose_numbers("came within 1% after 38 to 59 steps (98.23%, 0.0156 std), bn1, "
                        "section 6, `ln(0.01) = 44`") ==
          std::vector<std::string>{"1%", "38", "59", "98.23%", "0.0156"});
    CHECK(has_number("floor 2.17% off", "2.17%"));
    CHECK_FALSE(has_number("floor 12.17% off", "2.17%"));
    CHECK_FALSE(has_number("step 2731", "273"));
}
