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
            {"gradnorms sweeps the depth of the mlp only", "",
             "normgrad gradnorms --data data --model cnn --depths 2,4", 2,
             "--depths sweeps the mlp's depth"},
            {"compare always records the statistics", "",
             "normgrad compare --data data --grad-stats off", 2, "unknown flag --grad-stats"},
            {"a mistyped flag", "", t + "--epoch 3", 2, "did you mean --epochs?"},
            {"a mistyped command", "", "normgrad trian", 2, "did you mean 'train'?"},
        });
}

TEST_CASE("reliability: a model spec's errors name the token, its position and why",
          "[reliability]") {
    const std::string t = "normgrad train --data data --max-steps 1 --no-progress ";
    check_reliability_group(
        "models", "Model specs (--arch, --norm, --variants)",
        {
            {"a misspelt layer", "", t + "--arch conv3x3:8,nrom,relu,gap,dense:10", 2,
             "'nrom' at character 11: unknown layer"},
            {"a layer without its size", "", t + "--arch dense,relu,dense:10", 2,
             "'dense' at character 1: expected one argument after 'dense:', as in dense:64"},
            {"a size that is not a number", "", t + "--arch dense:6x4,relu,dense:10", 2,
             "expected a number of features"},
            {"a residual block left open", "", t + "--arch \"dense:64,res(dense:64,relu\"", 2,
             "expected ')' to close the residual block opened at character 10"},
            {"a convolution after a dense layer", "", t + "--arch dense:64,conv3x3:8,gap,dense:10",
             2, "'conv3x3:8' at character 10: a convolution needs images [C, H, W], but gets [64]"},
            {"a kernel larger than the images it gets", "",
             t + "--arch conv5x5:8:p0,maxpool8,conv5x5:8:p0,gap,dense:10", 2,
             "a 5x5 kernel does not fit the 3x3 images it gets (padding 0)"},
            {"a residual block that turns images into features", "",
             t + "--arch \"conv3x3:8,res(conv3x3:8,gap),dense:10\"", 2,
             "the block turns its input [8, 28, 28] into [8], which cannot be added to it"},
            {"a residual block whose output no projection can add to its input", "",
             t + "--arch \"conv3x3:8,res(conv3x3:8:p0,conv3x3:8:p0,conv3x3:8:p0),gap,dense:10\"", 2,
             "the block's output [8, 22, 22] cannot be added to its input [8, 28, 28]"},
            {"a model that does not end with the classes", "", t + "--arch dense:64,relu", 2,
             "the model ends with [64], but the data has 10 classes (end the spec with dense:10)"},
            {"groups that do not divide the features", "",
             t + "--arch dense:10,groupnorm:3,relu,dense:10", 2,
             "GroupNorm with 3 groups needs a number of channels divisible by 3, but gets [10]"},
            {"a dropout rate of 1", "", t + "--arch dense:64,dropout:1,dense:10", 2,
             "expected a dropout rate in [0, 1), got '1'"},
            {"--arch from a file that is not there", "", t + "--arch @missing.arch", 2,
             "--arch @missing.arch: missing.arch is not a readable file"},
            {"--arch with --model", "", t + "--arch dense:10 --model cnn", 2,
             "--arch and --model exclude each other"},
            {"--depth with --arch", "", t + "--arch dense:10 --depth 3", 2,
             "--depth applies only to --model mlp"},
            {"an unknown normalisation", "", t + "--norm batchnorm", 2,
             "unknown normalisation 'batchnorm' (expected none, batch, layer, group, group:G or "
             "rms)"},
            {"zero groups", "", t + "--norm group:0", 2,
             "expected a number of groups in 1..65536 after 'group:'"},
            {"--batchnorm with --norm", "", t + "--batchnorm on --norm layer", 2,
             "--batchnorm on is the short form of --norm batch: give one of them"},
            {"compare with an unknown variant", "",
             "normgrad compare --data data --variants none,btach --out cmp", 2,
             "--variants: unknown normalisation 'btach'"},
            {"compare with a variant twice", "",
             "normgrad compare --data data --variants batch,layer,batch --out cmp", 2,
             "--variants names batch twice"},
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
             "BatchNorm, epoch 1/1 step 4/4",
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
