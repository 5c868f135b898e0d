// normgrad recalibrate and normgrad fold end to end, on the tiny generated data set (never a
// claim about MNIST).
#include <catch2/catch.hpp>
#include <string>

#include "cli_helpers.hpp"

using Catch::Matchers::Contains;
using namespace normgrad::testing;

namespace {

// The number after `label` in `text` ("test accuracy " -> "98.44").
std::string number_after(const std::string& text, const std::string& label) {
    const auto at = text.find(label);
    REQUIRE(at != std::string::npos);
    const size_t begin = at + label.size();
    return text.substr(begin, text.find_first_not_of("0123456789.e-+", begin) - begin);
}

}  // namespace

TEST_CASE("cli: recalibrate recomputes the statistics, reports both accuracies, saves",
          "[cli][recalibrate]") {
    TinyData d;
    REQUIRE(run("train --model cnn --batchnorm on --batch 32 --no-progress --save " +
                d.file("m.safetensors") + d.data())
                .status == 0);
    Run r = run("recalibrate --load " + d.file("m.safetensors") + " --batch 48 --save " +
                d.file("r.safetensors") + d.data());
    INFO(r.output);
    REQUIRE(r.status == 0);
    // 256 training images: 5 batches of 48, 16 left out.
    CHECK_THAT(r.output, Contains("recalibrated on 240 training images: 5 batches of 48 in file "
                                  "order (the last 16 images, a partial batch, left out)"));
    CHECK_THAT(r.output, Contains("bn1                    32     37632"));  // 48 * 28 * 28
    CHECK_THAT(r.output, Contains("bn3                   128        48"));
    CHECK_THAT(r.output, Contains("test accuracy: before "));
    const std::string after = number_after(r.output, "after ");
    Run e = run("eval --load " + d.file("r.safetensors") + d.data());
    INFO(e.output);
    REQUIRE(e.status == 0);
    CHECK_THAT(e.output, Contains("test accuracy " + after + "%"));

    // A second recalibration with the same batches moves nothing.
    Run again = run("recalibrate --load " + d.file("r.safetensors") + " --batch 48" + d.data());
    INFO(again.output);
    REQUIRE(again.status == 0);
    CHECK_THAT(again.output,
               Contains("max 0.0000   average 0.0000     max    0.00% average 0.00%"));
    CHECK_THAT(again.output, Contains("not saved"));

    // Never over its input; a model without BatchNorm and a batch larger than the data are
    // refused before any work.
    Run same = run("recalibrate --load " + d.file("m.safetensors") + " --save " +
                   d.file("m.safetensors") + d.data());
    CHECK(same.status == 2);
    CHECK_THAT(same.output, Contains("normgrad never writes over its inputs"));
    Run big = run("recalibrate --load " + d.file("m.safetensors") + " --batch 300" + d.data());
    CHECK(big.status == 2);
    CHECK_THAT(big.output, Contains("has only 256 images"));
    REQUIRE(run("train --model mlp --batch 32 --max-steps 1 --no-progress --save " +
                d.file("plain.safetensors") + d.data())
                .status == 0);
    Run plain = run("recalibrate --load " + d.file("plain.safetensors") + d.data());
    CHECK(plain.status == 2);
    CHECK_THAT(plain.output, Contains("no BatchNorm with running statistics"));
}

TEST_CASE("cli: fold gives the same outputs and accuracy, in a file eval loads", "[cli][fold]") {
    TinyData d;
    const std::string spec =
        "conv3x3:8,norm,relu,res(conv3x3:8,norm,relu,conv3x3:8,norm),relu,gap,dense:10";
    REQUIRE(run("train --arch '" + spec + "' --norm batch --batch 32 --no-progress --save " +
                d.file("m.safetensors") + d.data())
                .status == 0);
    Run f = run("fold --load " + d.file("m.safetensors") + " --save " + d.file("f.safetensors") +
                " --repeats 1" + d.data());
    INFO(f.output);
    REQUIRE(f.status == 0);
    CHECK_THAT(
        f.output,
        Contains("folded bn1 into conv1, res1.bn1 into res1.conv1, res1.bn2 into res1.conv2"));
    CHECK_THAT(f.output, Contains("--arch " + spec + " with no normalisation"));
    CHECK(std::stod(number_after(f.output, "max relative ")) < 1e-5);
    const std::string original = number_after(f.output, "test accuracy: original ");
    const std::string folded = number_after(f.output, "), folded ");
    CHECK(original == folded);
    Run e = run("eval --load " + d.file("f.safetensors") + d.data());
    INFO(e.output);
    REQUIRE(e.status == 0);
    CHECK_THAT(e.output, Contains("test accuracy " + folded + "%"));

    // A BatchNorm after an activation cannot fold: refused, naming it, nothing written.
    REQUIRE(run("train --arch 'dense:16,relu,norm,dense:10' --norm batch --batch 32 --max-steps 1 "
                "--no-progress --save " +
                d.file("after-relu.safetensors") + d.data())
                .status == 0);
    Run refused = run("fold --load " + d.file("after-relu.safetensors") + " --save " +
                      d.file("g.safetensors") + d.data());
    CHECK(refused.status == 2);
    CHECK_THAT(refused.output, Contains("bn1 (BatchNorm1d) follows act1 (ReLU)"));
    CHECK(!fs::exists(d.file("g.safetensors")));
    Run none = run("fold --load " + d.file("f.safetensors") + " --save " + d.file("g.safetensors") +
                   d.data());
    CHECK(none.status == 2);
    CHECK_THAT(none.output, Contains("no BatchNorm to fold"));
    Run missing = run("fold --load " + d.file("m.safetensors") + d.data());
    CHECK(missing.status == 2);
    CHECK_THAT(missing.output, Contains("--save"));
}
