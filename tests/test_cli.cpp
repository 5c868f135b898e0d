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

#include <fmt/format.h>

#include "cli_helpers.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;

using namespace normgrad::testing;

TEST_CASE("cli: out-of-range flags give one line and exit status 2", "[cli]") {
    TinyData d;
    struct Case {
        std::string args, expected;
    };
    for (const Case& c : std::vector<Case>{
             {"train --batch 0", "--batch: 0 is not an integer in 1..1048576"},
             {"train --lr -1", "--lr: -1 is not > 0"},
             {"train --epochs 0", "--epochs: 0 is not an integer in 1..100000"},
             {"train --momentum 1.5", "--momentum: 1.5 is not in [0, 1)"},
             {"train --threads 0", "--threads: 0 is not an integer in 1..256"},
             {"train --model resnet", "--model"},
             {"train --batchnorm maybe", "--batchnorm"},
             {"train --no-such-flag", "unknown flag --no-such-flag"},
             {"train --batch abc", "--batch: 'abc' is not an integer"},
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
    // The run's settings, 8 steps and 1 epoch line per epoch, and the end record.
    CHECK(std::count(a.begin(), a.end(), '\n') == 1 + 2 * 8 + 2 + 1);
    CHECK(a.rfind(R"({"type":"run","settings":{"--model":"mlp",)", 0) == 0);
    CHECK_THAT(a, Contains(R"("type":"step","epoch":1,"step":1,"loss":)"));
    CHECK_THAT(a, EndsWith("{\"type\":\"end\",\"status\":\"completed\",\"step\":16}\n"));
    CHECK_THAT(a, Contains(R"("type":"epoch","epoch":2,"steps":8,"train_loss":)"));
    for (const auto& e : fs::directory_iterator(d.dir))  // no temporary left behind
        CHECK(e.path().filename().string().find("normgrad-tmp") == std::string::npos);
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
    // Long enough (50 epochs of 8 steps) that the signal arrives while it trains.
    const std::string common =
        "train --model mlp --batchnorm on --batch 32 --epochs 50 --seed 2 --threads 1 "
        "--optimizer adam --lr 0.01 --grad-stats off" +
        d.data();
    REQUIRE(run(common + " --no-progress --log " + d.file("full.jsonl")).status == 0);

    // A real SIGINT once the first progress line is out: the step in progress completes, a
    // checkpoint is written, exit 130.
    Child child(common + " --log-every 1 --checkpoint " + d.file("ck.safetensors") + " --log " +
                d.file("log.jsonl"));
    REQUIRE(child.wait_for("step 1/8"));
    child.signal(SIGINT);
    const Run stopped = child.finish();
    INFO(stopped.output);
    CHECK(stopped.status == 130);
    const auto at = stopped.output.find("interrupted by SIGINT after step ");
    REQUIRE(at != std::string::npos);
    const int64_t k = std::stoll(stopped.output.substr(at + 33));
    CHECK(k >= 1);
    CHECK(k < 400);
    REQUIRE(fs::exists(d.file("ck.safetensors")));
    const std::string part = read_file(d.file("log.jsonl"));
    CHECK(step_lines(part).size() == size_t(k));
    CHECK_THAT(part,
               Contains(fmt::format(R"({{"type":"end","status":"interrupted","step":{},)", k)));

    // Resumed with the same --log, the log is continued: it ends up equal to the uninterrupted
    // run's, every step once, all but the timing fields.
    Run resumed =
        run(common + " --no-progress --resume " + d.file("ck.safetensors") + " --checkpoint " +
            d.file("ck.safetensors") + " --log " + d.file("log.jsonl"));
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    CHECK_THAT(resumed.output, Contains("continuing the log"));
    const std::string full = without_times(read_file(d.file("full.jsonl")));
    const std::string joined = without_times(read_file(d.file("log.jsonl")));
    CHECK(step_lines(joined).size() == 400);
    CHECK(joined == full);
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
    CHECK(other.status == 2);
    CHECK_THAT(other.output,
               Contains("another run") && Contains("--batch is 32 in the checkpoint and 16 now"));
    CHECK(run(common + " --checkpoint-every -1").status == 2);
}

TEST_CASE("cli: on a terminal the progress bar shows the epoch and the time left", "[cli]") {
    TinyData d;
    // script(1) runs the program on a pseudo-terminal, as a user at a shell would.
    const std::string cmd = "script -qfec '" + std::string(NORMGRAD_BINARY_DIR) +
                            "/normgrad train --batch 32 --epochs 2" + d.data() + "' /dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    REQUIRE(decode_status(pclose(p)) == 0);
    INFO(out);
    CHECK_THAT(out, Contains("\repoch 2/2 [") && Contains(" left"));
    CHECK_THAT(out, !Contains("epoch 1/2 step 1/8"));  // lines are for when it is not a terminal
}

TEST_CASE("cli: a run with Dropout resumes mask for mask (the training stream is checkpointed)",
          "[cli][resume]") {
    TinyData d;
    const std::string common =
        "train --arch dense:32,relu,dropout:0.5,dense:10 --batch 32 --epochs 2 --seed 3 "
        "--threads 1 --grad-stats off --no-progress" +
        d.data();
    REQUIRE(run(common + " --log " + d.file("full.jsonl")).status == 0);
    // Steps 1-5 with a checkpoint at step 5, then the rest from it.
    REQUIRE(run(common + " --max-steps 5 --checkpoint-every 5 --checkpoint " +
                d.file("ck.safetensors") + " --log " + d.file("log.jsonl"))
                .status == 0);
    Run resumed = run(common + " --resume " + d.file("ck.safetensors") + " --checkpoint " +
                      d.file("ck2.safetensors") + " --log " + d.file("log.jsonl"));
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    const std::string full = without_times(read_file(d.file("full.jsonl")));
    const std::string joined = without_times(read_file(d.file("log.jsonl")));
    CHECK(step_lines(joined).size() == 16);
    CHECK(step_lines(joined) == step_lines(full));
    // And the masks come from --seed alone: the same run again draws the same ones.
    REQUIRE(run(common + " --log " + d.file("again.jsonl")).status == 0);
    CHECK(step_lines(without_times(read_file(d.file("again.jsonl")))) == step_lines(full));
}

TEST_CASE("cli: --eval-every logs and prints the test set every N steps", "[cli]") {
    TinyData d;
    Run r =
        run("train --arch conv3x3:4,norm,relu,gap,dense:10 --norm group:2 --batch 32 "
            "--epochs 2 --eval-every 3 --no-progress --log " +
            d.file("a.jsonl") + d.data());
    INFO(r.output);
    REQUIRE(r.status == 0);
    for (int step : {3, 6, 9, 12, 15})
        CHECK_THAT(r.output, Contains(fmt::format("step {}: test loss", step)));
    const std::string log = read_file(d.file("a.jsonl"));
    size_t evals = 0;
    for (size_t p = 0; (p = log.find(R"("type":"eval")", p)) != std::string::npos; ++p) ++evals;
    CHECK(evals == 5);
    CHECK_THAT(log, Contains(R"({"type":"eval","epoch":2,"step":15,"test_loss":)"));
}

TEST_CASE("cli: eval rebuilds an --arch model from its file alone", "[cli]") {
    TinyData d;
    const std::string spec = "conv3x3:4,norm,relu,maxpool2,res(conv3x3:8,norm,relu),gap,dense:10";
    Run t = run("train --arch '" + spec +
                "' --norm layer --input unit --batch 32 --no-progress "
                "--save " +
                d.file("m.safetensors") + d.data());
    INFO(t.output);
    REQUIRE(t.status == 0);
    const auto at = t.output.find("test accuracy ");
    REQUIRE(at != std::string::npos);
    const std::string accuracy = t.output.substr(at + 14, t.output.find('%', at) - at - 14);
    Run e = run("eval --load " + d.file("m.safetensors") + d.data());
    INFO(e.output);
    REQUIRE(e.status == 0);
    CHECK_THAT(e.output,
               Contains("--arch " + spec + " with LayerNorm: test accuracy " + accuracy + "%"));
}
