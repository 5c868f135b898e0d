// Reliability cases (reliability.hpp): signals, logs, resuming, BatchNorm and small batches.
#include <fmt/format.h>

#include <sstream>

#include "reliability.hpp"

using namespace normgrad::testing;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

bool nothing_written() {
    for (const auto& e : fs::directory_iterator("."))
        if (e.path().filename() != "data" && e.path().filename() != "slow") return false;
    return true;
}

std::vector<std::string> lines_of_type(const std::string& log, const std::string& type) {
    std::vector<std::string> out;
    std::istringstream in(log);
    for (std::string l; std::getline(in, l);)
        if (l.find("{\"type\":\"" + type + "\"") == 0) out.push_back(l);
    return out;
}

std::string last_line(const std::string& text) {
    const size_t end = text.find_last_not_of('\n');
    const size_t begin = text.rfind('\n', end);
    return text.substr(begin == std::string::npos ? 0 : begin + 1, end - begin);
}

// Runs `first` (a normgrad command line without the program), which must succeed, then the
// case's command.
std::function<Run(const std::string&)> after(const std::string& first) {
    return [first](const std::string& command) {
        const Run r = run(first);
        INFO(r.output);
        REQUIRE(r.status == 0);
        return run(command.substr(command.find(' ') + 1));
    };
}

const std::string kCheckpointed =
    "train --data data --batch 32 --epochs 2 --max-steps 12 --checkpoint-every 4 "
    "--checkpoint ck.safetensors --no-progress";

}  // namespace

TEST_CASE("reliability: a stop is honoured at any moment", "[reliability]") {
    const auto slow = [] { write_slow_data("slow"); };
    const auto interrupted_log = [](const Run&) {
        REQUIRE(fs::exists("ck.safetensors"));
        const std::string end = last_line(read_file("log.jsonl"));
        CHECK_THAT(end, Contains(R"("type":"end","status":"interrupted")"));
    };
    const std::string load = "normgrad train --data slow --save m.safetensors --log log.jsonl";
    const std::string train =
        "normgrad train --data data --batch 32 --epochs 50 --log-every 1 --checkpoint "
        "ck.safetensors --log log.jsonl";
    check_reliability_group("signals", "Signals at any moment",
                            {
                                {.title = "SIGINT while the data is loading",
                                 .setup = "slow/ holds 120,000 gzip-compressed images",
                                 .command = load,
                                 .status = 130,
                                 .expect = "interrupted by SIGINT",
                                 .prepare = slow,
                                 .runner = signal_when("loading", SIGINT),
                                 .shown_runner = "(Ctrl-C once it prints 'loading')",
                                 .verify = [](const Run&) { CHECK(nothing_written()); }},
                                {.title = "SIGTERM while the data is loading",
                                 .setup = "slow/ as above",
                                 .command = load,
                                 .status = 130,
                                 .expect = "interrupted by SIGTERM",
                                 .prepare = slow,
                                 .runner = signal_when("loading", SIGTERM),
                                 .shown_runner = "(SIGTERM once it prints 'loading')",
                                 .verify = [](const Run&) { CHECK(nothing_written()); }},
                                {.title = "SIGHUP while the data is loading",
                                 .setup = "slow/ as above",
                                 .command = load,
                                 .status = 130,
                                 .expect = "interrupted by SIGHUP",
                                 .prepare = slow,
                                 .runner = signal_when("loading", SIGHUP),
                                 .shown_runner = "(SIGHUP once it prints 'loading')",
                                 .verify = [](const Run&) { CHECK(nothing_written()); }},
                                {.title = "SIGTERM during training",
                                 .command = train,
                                 .status = 130,
                                 .expect = "interrupted by SIGTERM after step",
                                 .runner = signal_when("step 1/8", SIGTERM),
                                 .shown_runner = "(SIGTERM after its first step)",
                                 .verify = interrupted_log},
                                {.title = "SIGHUP during training",
                                 .command = train,
                                 .status = 130,
                                 .expect = "interrupted by SIGHUP after step",
                                 .runner = signal_when("step 1/8", SIGHUP),
                                 .shown_runner = "(SIGHUP after its first step)",
                                 .verify = interrupted_log},
                            });
}

TEST_CASE("reliability: logs survive and resume continues them", "[reliability]") {
    check_reliability_group(
        "logs", "Logs survive, and resume continues them",
        {
            {.title = "a run that diverges keeps its log, ending with how it ended",
             .command = "normgrad train --data data --batch 32 --init normal --init-std 1 --lr "
                        "10 --no-progress --log log.jsonl",
             .status = 1,
             .expect = "training diverged",
             .varies = {{R"(at step \d+ \(epoch 1\))", "at step K (epoch 1)"},
                        {R"(became (-?nan|inf))", "became X"},
                        {R"(the loss was [0-9.e+-]+)", "the loss was X"}},
             .verify =
                 [](const Run&) {
                     const std::string log = read_file("log.jsonl");
                     const auto steps = lines_of_type(log, "step");
                     REQUIRE(!steps.empty());
                     // The diverged step is logged, with the value that stopped being finite.
                     CHECK_THAT(steps.back(),
                                Contains(R"("loss":null)") || Contains(R"("grad_norm":null)"));
                     CHECK_THAT(last_line(log), Contains(R"("type":"end","status":"diverged")") &&
                                                    (Contains(R"("value":"loss")") ||
                                                     Contains(R"("value":"grad_norm")")));
                 }},
            {.title = "compare's steps.csv holds the step that diverged",
             .command = "normgrad compare --data data --batch 32 --init normal --init-std 1 "
                        "--lr 10 --no-progress --out cmp",
             .status = 0,
             .expect = "no normalisation  test accuracy",
             .varies = {{R"(accuracy +[0-9.]+%)", "accuracy X%"}, {R"(step: \d+)", "step: K"}},
             .verify =
                 [](const Run& r) {
                     const auto at = r.output.find("no normalisation  test accuracy");
                     REQUIRE(at != std::string::npos);
                     const std::string line = r.output.substr(at, r.output.find('\n', at) - at);
                     const std::string step = line.substr(line.rfind(' ') + 1);
                     REQUIRE(step != "none");
                     // The table reaches that step, and the verdict names it.
                     CHECK_THAT(r.output, Contains("step " + step));
                     // A blow-up early in the run gets charts of its first steps.
                     const std::string html = read_file("cmp/report.html");
                     if (2 * std::stoll(step) < 8)  // 256 images in batches of 32
                         CHECK_THAT(html, Contains("id=\"loss-first-steps\"") &&
                                              Contains("id=\"grad-norm-first-steps\""));
                     else
                         CHECK_THAT(html, !Contains("first-steps"));
                     CHECK_THAT(r.output, Contains("no normalisation: diverged. step 1: loss ") &&
                                              Contains("became non-finite at step " + step +
                                                       ". Test accuracy"));
                     // Its row is there, saying so.
                     const std::string csv = read_file("cmp/steps.csv");
                     CHECK_THAT(csv, Contains(",event_none,event_batch,"));
                     const size_t row = csv.find("\n" + step + ",1,");
                     REQUIRE(row != std::string::npos);
                     const std::string csv_row =
                         csv.substr(row + 1, csv.find('\n', row + 1) - row - 1);
                     CHECK_THAT(csv_row, Contains(",diverged (") && Contains(" not finite),"));
                 }},
            {.title = "resuming with the same --log continues the log",
             .command = "normgrad train --data data --batch 32 --epochs 2 --resume "
                        "ck.safetensors --checkpoint ck.safetensors --no-progress --log "
                        "log.jsonl",
             .status = 0,
             .expect = "continuing the log",
             .runner = after(kCheckpointed + " --log log.jsonl"),
             .shown_runner = "(after the same run stopped at step 12 with a checkpoint there)",
             .verify =
                 [](const Run&) {
                     const std::string log = read_file("log.jsonl");
                     const auto steps = lines_of_type(log, "step");
                     REQUIRE(steps.size() == 16);
                     for (size_t i = 0; i < steps.size(); ++i)
                         CHECK_THAT(steps[i], Contains(fmt::format(R"("step":{},)", i + 1)));
                     CHECK(lines_of_type(log, "run").size() == 1);
                     CHECK(lines_of_type(log, "epoch").size() == 2);
                     CHECK(lines_of_type(log, "end").size() == 1);
                 }},
        });
}

TEST_CASE("reliability: resume refuses what it cannot continue faithfully", "[reliability]") {
    check_reliability_group(
        "resume", "Resume refuses what it cannot continue faithfully",
        {
            {.title = "--resume with other settings",
             .command = "normgrad train --data data --resume ck.safetensors --batch 16 --lr 0.1",
             .status = 2,
             .expect = "--batch is 32 in the checkpoint and 16 now",
             .runner = after(kCheckpointed),
             .shown_runner = "(ck.safetensors from a run with --batch 32 --lr 0.05)",
             .verify =
                 [](const Run& r) {
                     CHECK_THAT(r.output, Contains("--lr is 0.05 in the checkpoint and 0.1 now"));
                 }},
            {.title = "--resume on other training data",
             .setup = "other/ holds other training images; ck.safetensors from a run on data/",
             .command = "normgrad train --data other --batch 32 --resume ck.safetensors",
             .status = 2,
             .expect = "training data is 256 images of 28x28",
             .prepare =
                 [] {
                     fs::create_directories("other");
                     write_split("other", "train", 256, 99);
                     write_split("other", "t10k", 64, 2);
                     REQUIRE(run(kCheckpointed).status == 0);
                 }},
            {.title = "--resume a checkpoint already past --epochs",
             .command = "normgrad train --data data --batch 32 --epochs 1 --resume ck.safetensors",
             .status = 2,
             .expect = "nothing left to train",
             .runner = after(kCheckpointed),
             .shown_runner = "(ck.safetensors at step 12, in epoch 2)",
             .verify = [](const Run& r) { CHECK_THAT(r.output, !Contains("saved")); }},
            {.title = "--resume given a model written by --save",
             .command = "normgrad train --data data --resume m.safetensors",
             .status = 2,
             .expect = "this is a model file",
             .runner = after("train --data data --max-steps 1 --no-progress --save m.safetensors"),
             .shown_runner = "(m.safetensors from --save)"},
            {.title = "--epochs may grow on resume",
             .command = "normgrad train --data data --batch 32 --epochs 3 --resume "
                        "ck.safetensors --no-progress",
             .status = 0,
             .expect = "epoch 3:",
             .varies = {{R"(loss [0-9.]+)", "loss X"}, {R"(accuracy [0-9.]+%)", "accuracy X%"}},
             .runner = after(kCheckpointed),
             .shown_runner = "(ck.safetensors at step 12)"},
        });
}

TEST_CASE("reliability: BatchNorm and small batches", "[reliability]") {
    check_reliability_group(
        "batches", "BatchNorm and small batches",
        {
            {.title = "--batch 1 with BatchNorm on the mlp",
             .command = "normgrad train --data data --batchnorm on --batch 1",
             .status = 2,
             .expect = "the model cannot train on one image at a time"},
            {.title = "--batch 1 with BatchNorm on the cnn (its BatchNorm1d after fc1 has one "
                      "value per feature)",
             .command = "normgrad train --data data --model cnn --batchnorm on --batch 1",
             .status = 2,
             .expect = "layer 'bn3' (BatchNorm1d)"},
            {.title = "a last batch of one image with BatchNorm",
             .setup = "data/ holds 257 training images",
             .command = "normgrad train --data data --batchnorm on --batch 32 --no-progress "
                        "--log log.jsonl",
             .status = 0,
             .expect = "the last batch of each epoch holds 1 image",
             .prepare =
                 [] {
                     fs::remove("data/train-images-idx3-ubyte");
                     fs::remove("data/train-labels-idx1-ubyte");
                     write_split("data", "train", 257, 1);
                 },
             .verify =
                 [](const Run&) {
                     CHECK(lines_of_type(read_file("log.jsonl"), "step").size() == 8);
                 }},
            {.title = "--drop-last",
             .command = "normgrad train --data data --batch 100 --drop-last --no-progress --log "
                        "log.jsonl",
             .status = 0,
             .expect = "--drop-last: the last batch of each epoch (56 of 256 images) is dropped",
             .verify =
                 [](const Run&) {
                     CHECK(lines_of_type(read_file("log.jsonl"), "step").size() == 2);
                 }},
        });
}
