// `normgrad compare` end to end on a tiny generated data set, and its HTML report checked in
// headless Chromium: the page renders, and every chart's drawn points are the run's numbers.
#include <catch2/catch.hpp>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_helpers.hpp"

using namespace normgrad::testing;
using Catch::Matchers::Contains;

namespace {

// Column `name` of the compare CSV, as numbers (empty cells skipped).
std::vector<double> csv_column(const std::string& csv, const std::string& name) {
    std::istringstream in(csv);
    std::string header, line;
    std::getline(in, header);
    std::vector<std::string> cols;
    std::stringstream hs(header);
    for (std::string c; std::getline(hs, c, ',');) cols.push_back(c);
    const auto idx = size_t(std::find(cols.begin(), cols.end(), name) - cols.begin());
    REQUIRE(idx < cols.size());
    std::vector<double> out;
    while (std::getline(in, line)) {
        std::stringstream ls(line);
        std::string cell;
        for (size_t i = 0; i <= idx; ++i) std::getline(ls, cell, ',');
        if (!cell.empty()) out.push_back(std::stod(cell));
    }
    return out;
}

std::string chromium_dom(const std::string& file, const fs::path& profile) {
    const std::string cmd =
        "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
        "--disable-background-networking --disable-component-update --disable-sync "
        "--user-data-dir=" +
        profile.string() + " --dump-dom file://" + file + " 2>/dev/null";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[65536];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    pclose(p);
    return out;
}

}  // namespace

TEST_CASE("compare: table, CSV and an HTML report whose charts hold the run's data",
          "[report][cli]") {
    REQUIRE(std::system("command -v chromium >/dev/null 2>&1") ==
            0);  // scripts/test.sh installs it
    TinyData d;
    const fs::path out = d.dir / "cmp";
    Run r =
        run("compare --model mlp --depth 3 --batch 32 --epochs 2 --lr 0.05 --at 3 --no-progress "
            "--out " +
            out.string() + d.data());
    INFO(r.output);
    REQUIRE(r.status == 0);
    // The terminal table: both runs side by side, BatchNorm layers only on the right.
    CHECK_THAT(r.output, Contains("step 1") && Contains("step 3") && Contains("step 16"));
    CHECK_THAT(r.output,
               Contains("bn1") && Contains("fc4") && Contains("first non-finite step: none"));

    const std::string csv = read_file((out / "steps.csv").string());
    const auto loss_off = csv_column(csv, "loss_none"), loss_on = csv_column(csv, "loss_batch");
    CHECK(loss_off.size() == 16);  // 256 images / 32 per batch * 2 epochs
    CHECK(loss_on.size() == 16);
    CHECK(csv_column(csv, "fc1_grad_none").size() == 16);
    CHECK(
        csv_column(csv, "bn1_grad_none").empty());  // no BatchNorm in the run without normalisation
    CHECK(csv_column(csv, "bn1_grad_batch").size() == 16);

    const std::string dom = chromium_dom((out / "report.html").string(), d.dir / "chromium");
    const auto start = dom.find("<pre id=\"render-check\">");
    REQUIRE(start != std::string::npos);
    const auto body = dom.find('>', start) + 1;
    const auto json = nlohmann::json::parse(dom.substr(body, dom.find("</pre>", body) - body));
    const auto& charts = json.at("charts");
    REQUIRE(charts.size() == 3 + 7);  // loss, accuracy, global norm; fc1..fc4 and bn1..bn3
    for (const auto& chart : charts) {
        INFO(chart.dump());
        CHECK(chart.at("rendered_width").get<double>() > 100);
        CHECK(chart.at("rendered_height").get<double>() > 100);
        for (const auto& s : chart.at("series")) {
            CHECK(s.at("points") == s.at("values"));
            CHECK(s.at("worst_pixel_error").get<double>() < 0.5);
        }
    }
    // The loss chart draws every step of both runs, with the CSV's values.
    const auto& loss_chart = charts.at(0);
    CHECK(loss_chart.at("id") == "loss");
    CHECK(loss_chart.at("series").at(0).at("points") == 16);
    CHECK(loss_chart.at("series").at(0).at("bbox_width").get<double>() > 100);
    const std::string html = read_file((out / "report.html").string());
    std::string first_values;
    {
        const auto p = html.find("data-values=\"");
        first_values = html.substr(p + 13, html.find('"', p + 13) - p - 13);
    }
    std::istringstream vs(first_values);
    std::vector<double> drawn;
    for (double v; vs >> v;) drawn.push_back(v);
    REQUIRE(drawn.size() == loss_off.size());
    // The page opens with the verdict the terminal printed.
    CHECK_THAT(html, Contains("<p class=\"verdict\">no normalisation: trained all 16 steps;"));
    CHECK_THAT(r.output, Contains("no normalisation: trained all 16 steps;"));
    for (size_t i = 0; i < drawn.size(); ++i) CHECK(drawn[i] == Approx(loss_off[i]).epsilon(1e-6));
}

TEST_CASE("compare --variants: every normalisation side by side, from the same start",
          "[report][cli]") {
    REQUIRE(std::system("command -v chromium >/dev/null 2>&1") == 0);
    TinyData d;
    const fs::path out = d.dir / "variants";
    Run r =
        run("compare --model mlp --depth 2 --hidden 8 --batch 32 --epochs 1 --lr 0.05 "
            "--variants none,batch,layer,group:2,rms --no-progress --out " +
            out.string() + d.data());
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.output, Contains("(none | batch | layer | group2 | rms)"));
    for (const char* label :
         {"no normalisation", "BatchNorm", "LayerNorm", "GroupNorm (2 groups)", "RMSNorm"})
        CHECK_THAT(r.output, Contains(std::string(label) + " ") && Contains("test accuracy"));
    const std::string csv = read_file((out / "steps.csv").string());
    for (const char* tag : {"none", "batch", "layer", "group2", "rms"})
        CHECK(csv_column(csv, std::string("loss_") + tag).size() == 8);  // 256 / 32
    // Each normalisation's own layers, the dense layers shared by all.
    CHECK(csv_column(csv, "ln1_grad_layer").size() == 8);
    CHECK(csv_column(csv, "gn2_grad_group2").size() == 8);
    CHECK(csv_column(csv, "rms1_grad_rms").size() == 8);
    CHECK(csv_column(csv, "ln1_grad_batch").empty());
    const std::string dom = chromium_dom((out / "report.html").string(), d.dir / "chromium");
    const auto start = dom.find("<pre id=\"render-check\">");
    REQUIRE(start != std::string::npos);
    const auto body = dom.find('>', start) + 1;
    const auto json = nlohmann::json::parse(dom.substr(body, dom.find("</pre>", body) - body));
    const auto& loss_chart = json.at("charts").at(0);
    REQUIRE(loss_chart.at("series").size() == 5);
    for (const auto& s : loss_chart.at("series"))
        CHECK(s.at("worst_pixel_error").get<double>() < 0.5);
}

TEST_CASE("study pages: every chart of the committed study reports renders with its data",
          "[report][study]") {
    // docs/results/study-*/report.html, written by scripts/studies.sh on the real data: the log
    // batch-size and learning-rate axes, the depth profiles and the step axes from 0 all draw
    // their points where the data says.
    REQUIRE(std::system("command -v chromium >/dev/null 2>&1") == 0);
    TinyData d;
    const std::map<std::string, size_t> pages{
        {"depth", 6}, {"batch-size", 2}, {"lr", 1}, {"ioffe-figure1", 3}};
    for (const auto& [name, count] : pages) {
        const std::string file =
            std::string(NORMGRAD_SOURCE_DIR) + "/docs/results/study-" + name + "/report.html";
        INFO(file);
        REQUIRE(fs::exists(file));
        const std::string dom = chromium_dom(file, d.dir / ("chromium-" + name));
        const auto start = dom.find("<pre id=\"render-check\">");
        REQUIRE(start != std::string::npos);
        const auto body = dom.find('>', start) + 1;
        const auto json = nlohmann::json::parse(dom.substr(body, dom.find("</pre>", body) - body));
        const auto& charts = json.at("charts");
        CHECK(charts.size() == count);
        for (const auto& chart : charts) {
            INFO(chart.dump());
            CHECK(chart.at("rendered_width").get<double>() > 100);
            for (const auto& s : chart.at("series")) {
                CHECK(s.at("points") == s.at("values"));
                CHECK(s.at("worst_pixel_error").get<double>() < 0.5);
            }
        }
    }
}
