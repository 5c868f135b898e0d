#include "reliability.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <regex>
#include <sstream>

namespace normgrad::testing {

namespace {

namespace fs = std::filesystem;

const fs::path kDoc = fs::path(NORMGRAD_SOURCE_DIR) / "docs" / "reliability.md";

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// The run-specific parts of a message, replaced by placeholders.
std::string normalise(std::string s, const fs::path& dir,
                      const std::vector<std::pair<std::string, std::string>>& varies) {
    for (const auto& [pattern, shown] : varies)
        s = std::regex_replace(s, std::regex(pattern), shown);
    const std::string d = dir.string();
    for (size_t p; (p = s.find(d + "/")) != std::string::npos;) s.erase(p, d.size() + 1);
    for (size_t p; (p = s.find(d)) != std::string::npos;) s.replace(p, d.size(), ".");
    s = std::regex_replace(s, std::regex(R"(pid \d+)"), "pid N");
    s = std::regex_replace(s, std::regex(R"(normgrad-tmp-\d+)"), "normgrad-tmp-PID");
    s = std::regex_replace(s, std::regex(R"(and [0-9.]+ [kMG]B of memory is available)"),
                           "and M GB of memory is available");
    s = std::regex_replace(s, std::regex(R"(half of the [0-9.]+ MB)"), "half of the M MB");
    s = std::regex_replace(s, std::regex(R"(after step \d+)"), "after step K");
    // Timings.
    s = std::regex_replace(s, std::regex(R"(\d+ img/s)"), "N img/s");
    s = std::regex_replace(s, std::regex(R"(train time [0-9.]+ s)"), "train time T s");
    s = std::regex_replace(s, std::regex(R"(\d+:\d\d(:\d\d)? left)"), "T left");
    return s;
}

std::string cell(std::string s) {
    std::string out;
    for (char c : s) {
        if (c == '|')
            out += "\\|";
        else if (c == '\n')
            out += "<br>";
        else
            out += c;
    }
    return out;
}

std::string section_marker(const std::string& group, const char* which) {
    return fmt::format("<!-- reliability:{} {} -->", group, which);
}

// The first line of `output` holding `text`, or "".
std::string line_with(const std::string& output, const std::string& text) {
    std::istringstream in(output);
    for (std::string l; std::getline(in, l);)
        if (l.find(text) != std::string::npos) return l;
    return "";
}

}  // namespace

std::function<Run(const std::string&)> signal_when(const std::string& line, int sig) {
    return [line, sig](const std::string& command) {
        Child child(command.substr(command.find(' ') + 1));  // Child prepends the program
        REQUIRE(child.wait_for(line));
        child.signal(sig);
        return child.finish();
    };
}

void write_slow_data(const fs::path& dir) {
    // Made once per test process (it takes seconds under the sanitizers), then linked.
    struct Cache {
        fs::path dir = fs::temp_directory_path() / fmt::format("normgrad-slow-data-{}", getpid());
        Cache() {
            fs::remove_all(dir);
            fs::create_directories(dir);
            write_split(dir, "train", 120000, 3, 28, 28, true);  // 94 MB once inflated
            write_split(dir, "t10k", 64, 4, 28, 28, true);
        }
        ~Cache() { fs::remove_all(dir); }
    };
    static const Cache cache;
    fs::create_directories(dir);
    for (const auto& f : fs::directory_iterator(cache.dir))
        fs::create_hard_link(f.path(), dir / f.path().filename());
}

void check_reliability_group(const std::string& group, const std::string& heading,
                             const std::vector<ReliabilityCase>& cases) {
    const fs::path root =
        fs::temp_directory_path() / fmt::format("normgrad-reliability-{}-{}", group, getpid());
    fs::remove_all(root);
    const fs::path previous = fs::current_path();
    const std::string bin = std::string(NORMGRAD_BINARY_DIR);
    // Commands that run normgrad more than once find it on the PATH.
    const char* path = std::getenv("PATH");
    if (!path || std::string(path).rfind(bin + ":", 0) != 0)
        setenv("PATH", (bin + ":" + (path ? path : "/usr/bin:/bin")).c_str(), 1);
    std::string table = "| case | set-up | command | exit | message |\n|---|---|---|---|---|\n";
    int index = 0;
    for (const ReliabilityCase& c : cases) {
        const fs::path dir = root / std::to_string(++index);
        fs::create_directories(dir / "data");
        write_split(dir / "data", "train", 256, 1);
        write_split(dir / "data", "t10k", 64, 2);
        fs::current_path(dir);
        INFO("case: " << c.title << "\nset-up: " << c.setup << "\ncommand: " << c.command);
        std::string row =
            fmt::format("| {} | {} | `{}`{} |", cell(c.title),
                        c.setup.empty() ? ""
                        : c.prepare     ? cell(c.setup)
                                        : "`" + cell(c.setup) + "`",
                        cell(c.command), c.shown_runner.empty() ? "" : " " + cell(c.shown_runner));
        // A case that fails hard (a REQUIRE) is recorded and the next one still runs, so that
        // one run of the group tells every case that fails.
        try {
            if (c.prepare) {
                c.prepare();
            } else if (!c.setup.empty()) {
                const int st =
                    std::system(("/bin/sh -c " + quote(c.setup) + " >/dev/null 2>&1").c_str());
                REQUIRE(decode_status(st) == 0);
            }
            REQUIRE(c.command.rfind("normgrad ", 0) == 0);
            const Run r = c.runner ? c.runner(bin + "/" + c.command) : run(c.command.substr(9));
            INFO("output:\n" << r.output);
            CHECK(r.status == c.status);
            const std::string message = line_with(r.output, c.expect);
            CHECK(!message.empty());
            if (c.verify) c.verify(r);
            row += fmt::format(" {} | {} |\n", r.status, cell(normalise(message, dir, c.varies)));
        } catch (...) {
            FAIL_CHECK("the case stopped at a failed requirement: " << c.title);
            row += " (did not complete) | |\n";
        }
        table += row;
        fs::current_path(previous);
    }
    fs::remove_all(root);

    const std::string section = fmt::format("{}\n### {}\n\n{}{}", section_marker(group, "begin"),
                                            heading, table, section_marker(group, "end"));
    std::string doc = read_file(kDoc.string());
    const size_t b = doc.find(section_marker(group, "begin"));
    const size_t e = doc.find(section_marker(group, "end"));
    const char* write = std::getenv("NORMGRAD_WRITE_RELIABILITY_DOC");
    if (write && std::string(write) == "1") {
        if (b != std::string::npos && e != std::string::npos)
            doc.replace(b, e + section_marker(group, "end").size() - b, section);
        else
            doc += "\n" + section + "\n";
        std::ofstream(kDoc, std::ios::binary | std::ios::trunc) << doc;
        return;
    }
    INFO("docs/reliability.md is not what the cases give: run scripts/reliability-doc.sh");
    REQUIRE(b != std::string::npos);
    REQUIRE(e != std::string::npos);
    CHECK(doc.substr(b, e + section_marker(group, "end").size() - b) == section);
}

}  // namespace normgrad::testing
