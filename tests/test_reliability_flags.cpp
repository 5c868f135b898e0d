// Reliability cases (reliability.hpp): flags and diagnostics.
#include "reliability.hpp"

using namespace normgrad::testing;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

TEST_CASE("reliability: every flag's range is checked before any work", "[reliability]") {
    const std::string t = "normgrad train --data data ";
    check_reliability_group(
        "flags", "Flags",
        {
            {"--max-steps below 0", "", t + "--max-steps -1", 2, "--max-steps"},
            {"--clip not a number", "", t + "--clip nan", 2, "--clip"},
            {"--weight-decay infinite", "", t + "--weight-decay inf", 2, "--weight-decay"},
            {"--init-std infinite", "", t + "--init normal --init-std inf", 2, "--init-std"},
            {"--warmup below 0", "", t + "--warmup -5", 2, "--warmup"},
            {"--seed beyond 64 bits", "", t + "--seed 18446744073709551616", 2, "--seed"},
            {"--batch beyond a signed 64-bit integer", "", t + "--batch 9223372036854775807", 2,
             "--batch"},
            {"--init-std without --init normal", "", t + "--init-std 0.1", 2,
             "--init-std applies only with --init normal"},
            {"--momentum with adam", "", t + "--optimizer adam --momentum 0.5", 2,
             "--momentum applies only to --optimizer sgd"},
            {"--nesterov without momentum", "", t + "--nesterov --momentum 0", 2,
             "--nesterov needs a momentum"},
            {"--hidden with the cnn", "", t + "--model cnn --hidden 64", 2,
             "--hidden applies only to --model mlp"},
            {"gradnorms takes no training flags", "", "normgrad gradnorms --data data --lr 0.1", 2,
             "unknown flag --lr"},
            {"gradnorms sweeps MLPs only", "", "normgrad gradnorms --data data --model cnn", 2,
             "unknown flag --model"},
            {"compare always records the statistics", "",
             "normgrad compare --data data --grad-stats off", 2, "unknown flag --grad-stats"},
            {"a mistyped flag", "", t + "--epoch 3", 2, "did you mean --epochs?"},
            {"a mistyped command", "", "normgrad trian", 2, "did you mean 'train'?"},
        });
}

TEST_CASE("reliability: diagnostics say where and what", "[reliability]") {
    check_reliability_group(
        "diagnostics", "Diagnostics",
        {
            {"--detect-anomaly when the gradient norm overflows but every value is finite",
             "",
             "normgrad train --data data --model cnn --batch 32 --epochs 3 --lr 100 "
             "--detect-anomaly --no-progress",
             1,
             "every gradient is finite, but the global gradient norm is inf",
             {{R"(anomaly at step \d+)", "anomaly at step K"},
              {R"(weight gradient overflow)", "weight gradient overflow"},
              {R"(layer '[a-z0-9]+''s)", "layer 'L''s"},
              {R"(largest element is [0-9.e+]+)", "largest element is X"}}},
            {"--data is a symbolic link loop", "ln -s loop loop", "normgrad train --data loop", 2,
             "symbolic link loop"},
            {"--data names a file", "", "normgrad train --data data/train-images-idx3-ubyte", 2,
             "is a regular file"},
            {"progress lines when the output is not a terminal",
             "",
             "normgrad train --data data --batch 32 --log-every 4",
             0,
             "epoch 1/1 step 4/8",
             {{R"(loss [0-9.]+)", "loss X"}}},
            {"the epoch line gives the test loss",
             "",
             "normgrad train --data data --no-progress",
             0,
             "test loss",
             {{R"(loss [0-9.]+)", "loss X"}}},
            {"compare says which run is in progress",
             "",
             "normgrad compare --data data --batch 64 --log-every 4 --out cmp",
             0,
             "BatchNorm on, epoch 1/1 step 4/4",
             {{R"(loss [0-9.]+)", "loss X"}}},
        });
}

TEST_CASE("cli: help shows flags as typed and says what --schedule step does", "[cli]") {
    const Run help = run("train --help");
    REQUIRE(help.status == 0);
    CHECK_THAT(help.output, !Contains("{false}"));
    CHECK_THAT(help.output, !Contains("!--"));
    CHECK_THAT(help.output, Contains("--no-decay-bias-norm"));
    CHECK_THAT(help.output, Contains("step (divided by 10 after each third of the run)"));
    CHECK_THAT(help.output, Contains("--batch INT:in 1..1048576"));
}
