// The normgrad program end to end, on a tiny generated MNIST-format data set (never a claim
// about MNIST): flag errors, missing data, determinism, save/eval, damaged checkpoints.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_helpers.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

using namespace normgrad::testing;

TEST_CASE("cli: out-of-range flags give one line and exit status 2", "[cli]") {
    TinyData d;
    struct Case {
        std::string args, expected;
    };
    for (const Case& c : std::vector<Case>{
             {"train --batch 0", "--batch must be at least 1"},
             {"train --lr -1", "--lr must be a positive number"},
             {"train --epochs 0", "--epochs must be at least 1"},
             {"train --momentum 1.5", "--momentum"},
             {"train --threads 0", "--threads"},
             {"train --model resnet", "--model"},
             {"train --batchnorm maybe", "--batchnorm"},
             {"train --no-such-flag", "no-such-flag"},
             {"train --batch abc", "--batch"},
         }) {
        Run r = run(c.args + d.data());
        INFO(c.args << " -> " << r.output);
        CHECK(r.status == 2);
        CHECK_THAT(r.output, Contains(c.expected));
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    }
    Run none = run("");
    CHECK(none.status == 2);
}

TEST_CASE("cli: a data folder without the four files is a clear error", "[cli]") {
    TinyData d;
    Run missing = run("train --data " + d.file("nowhere"));
    CHECK(missing.status == 2);
    CHECK_THAT(missing.output, Contains("nowhere"));
    fs::remove(d.dir / "t10k-labels-idx1-ubyte");
    Run partial = run("train --max-steps 1" + d.data());
    CHECK(partial.status == 2);
    CHECK_THAT(partial.output, Contains("t10k-labels-idx1-ubyte"));
}

TEST_CASE("cli: same seed and one thread give the same run, loss for loss", "[cli]") {
    TinyData d;
    const std::string common =
        "train --model mlp --batchnorm on --batch 32 --epochs 2 --seed 3 "
        "--threads 1 --no-progress" +
        d.data();
    REQUIRE(run(common + " --log " + d.file("a.jsonl")).status == 0);
    REQUIRE(run(common + " --log " + d.file("b.jsonl")).status == 0);
    const std::string a = without_times(read_file(d.file("a.jsonl")));
    const std::string b = without_times(read_file(d.file("b.jsonl")));
    CHECK(!a.empty());
    CHECK(a == b);
    CHECK(std::count(a.begin(), a.end(), '\n') == 2 * 8 + 2);  // 8 steps and 1 epoch line each
    CHECK_THAT(a, Contains(R"("type":"step","epoch":1,"step":1,"loss":)"));
    CHECK_THAT(a, Contains(R"("type":"epoch","epoch":2,"steps":8,"train_loss":)"));
    CHECK_FALSE(fs::exists(d.file("a.jsonl.tmp")));
    // Another seed gives another run.
    REQUIRE(run("train --model mlp --batchnorm on --batch 32 --epochs 2 --seed 4 --threads 1 "
                "--no-progress --log " +
                d.file("c.jsonl") + d.data())
                .status == 0);
    CHECK(without_times(read_file(d.file("c.jsonl"))) != a);
}

TEST_CASE("cli: train learns the tiny task, saves, and eval reproduces the accuracy", "[cli]") {
    TinyData d;
    Run t =
        run("train --model cnn --batchnorm on --batch 32 --epochs 3 --lr 0.05 --no-progress "
            "--save " +
            d.file("m.safetensors") + d.data());
    INFO(t.output);
    REQUIRE(t.status == 0);
    const auto pos = t.output.rfind("test accuracy ");
    REQUIRE(pos != std::string::npos);
    const std::string accuracy = t.output.substr(pos, t.output.find('%', pos) - pos + 1);
    CHECK(std::stod(accuracy.substr(14)) > 90.0);  // the quadrant task is easy; chance is 25%
    Run e = run("eval --load " + d.file("m.safetensors") + d.data());
    INFO(e.output);
    REQUIRE(e.status == 0);
    CHECK_THAT(e.output, Contains(accuracy));
}

TEST_CASE("cli: a damaged or missing checkpoint is a clear error, never a crash", "[cli]") {
    TinyData d;
    REQUIRE(run("train --max-steps 2 --no-progress --save " + d.file("m.safetensors") + d.data())
                .status == 0);
    std::string bytes = read_file(d.file("m.safetensors"));
    bytes[bytes.size() - 5] ^= 0x40;  // one flipped bit in the weights
    std::ofstream(d.file("flipped.safetensors"), std::ios::binary) << bytes;
    Run flipped = run("eval --load " + d.file("flipped.safetensors") + d.data());
    CHECK(flipped.status == 1);
    CHECK_THAT(flipped.output, Contains("flipped.safetensors") && Contains("checksum"));

    std::ofstream(d.file("cut.safetensors"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    Run cut = run("eval --load " + d.file("cut.safetensors") + d.data());
    CHECK(cut.status == 1);
    CHECK_THAT(cut.output, Contains("cut.safetensors"));

    Run missing = run("eval --load " + d.file("absent.safetensors") + d.data());
    CHECK(missing.status == 1);
    CHECK_THAT(missing.output, Contains("absent.safetensors"));
    for (const Run* r : {&flipped, &cut, &missing})
        CHECK(std::count(r->output.begin(), r->output.end(), '\n') == 1);
}

namespace {
std::vector<std::string> step_lines(const std::string& log) {
    std::vector<std::string> out;
    std::istringstream in(log);
    for (std::string l; std::getline(in, l);)
        if (l.find("\"type\":\"step\"") != std::string::npos) out.push_back(l);
    return out;
}
}  // namespace

TEST_CASE("cli: a run stopped by SIGINT and resumed gives the same losses, step for step",
          "[cli][resume]") {
    TinyData d;
    const std::string common =
        "train --model cnn --batchnorm on --batch 32 --epochs 3 --seed 2 "
        "--threads 1 --no-progress --optimizer adam --lr 0.01" +
        d.data();
    REQUIRE(run(common + " --log " + d.file("full.jsonl")).status == 0);

    // A real SIGINT after step 11 (of 24): the step completes, a checkpoint is written, exit 130.
    setenv("NORMGRAD_TEST_SIGINT_AT_STEP", "11", 1);
    Run stopped = run(common + " --checkpoint " + d.file("ck.safetensors") + " --log " +
                      d.file("part1.jsonl"));
    unsetenv("NORMGRAD_TEST_SIGINT_AT_STEP");
    INFO(stopped.output);
    CHECK(stopped.status == 130);
    CHECK_THAT(stopped.output, Contains("interrupted after step 11"));
    REQUIRE(fs::exists(d.file("ck.safetensors")));

    Run resumed =
        run(common + " --resume " + d.file("ck.safetensors") + " --log " + d.file("part2.jsonl"));
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    const auto full = step_lines(read_file(d.file("full.jsonl")));
    auto joined = step_lines(read_file(d.file("part1.jsonl")));
    const auto part2 = step_lines(read_file(d.file("part2.jsonl")));
    CHECK(joined.size() == 11);
    joined.insert(joined.end(), part2.begin(), part2.end());
    REQUIRE(full.size() == 24);
    CHECK(joined == full);  // every loss, gradient norm and per-layer statistic
    // The final epoch summary (train loss, test accuracy) is the same too.
    const std::string a = without_times(read_file(d.file("full.jsonl")));
    const std::string b = without_times(read_file(d.file("part2.jsonl")));
    CHECK(a.substr(a.rfind("{\"type\":\"epoch\"")) == b.substr(b.rfind("{\"type\":\"epoch\"")));
}

TEST_CASE("cli: periodic checkpoints resume exactly; a checkpoint from another run is refused",
          "[cli][resume]") {
    TinyData d;
    const std::string common =
        "train --model mlp --batch 32 --epochs 2 --seed 5 --threads 1 "
        "--no-progress" +
        d.data();
    REQUIRE(run(common + " --log " + d.file("full.jsonl")).status == 0);
    // Checkpoints at steps 5, 10 and 15 of 16: the last one written is step 15.
    REQUIRE(run(common + " --max-steps 15 --checkpoint-every 5 --checkpoint " +
                d.file("ck.safetensors"))
                .status == 0);
    REQUIRE(run(common + " --resume " + d.file("ck.safetensors") + " --log " + d.file("rest.jsonl"))
                .status == 0);
    const auto full = step_lines(read_file(d.file("full.jsonl")));
    const auto rest = step_lines(read_file(d.file("rest.jsonl")));
    REQUIRE(rest.size() == 1);
    CHECK(rest[0] == full.back());

    Run other = run("train --model mlp --batch 16 --epochs 2 --seed 5 --no-progress --resume " +
                    d.file("ck.safetensors") + d.data());
    CHECK(other.status == 1);
    CHECK_THAT(other.output,
               Contains("another run") && Contains("batch=32") && Contains("batch=16"));
    CHECK(run(common + " --checkpoint-every -1").status == 2);
}
