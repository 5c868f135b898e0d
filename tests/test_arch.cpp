// The --arch parser: the examples exactly as written, every layer kind, and errors that
// name the token, its position and what was expected.
#include <catch2/catch.hpp>

#include "normgrad/train/arch.hpp"

using namespace normgrad::train;
using Catch::Matchers::Contains;
using Kind = ArchLayer::Kind;

TEST_CASE("arch: the examples of the docs parse as written", "[arch]") {
    const Arch cnn = parse_arch(
        "conv3x3:32,norm,relu,maxpool2,res(conv3x3:32,norm,relu,conv3x3:32,norm),relu,gap,"
        "dense:10");
    REQUIRE(cnn.layers.size() == 8);
    CHECK(cnn.layers[0].kind == Kind::Conv);
    CHECK(cnn.layers[0].kernel == 3);
    CHECK(cnn.layers[0].size == 32);
    CHECK(cnn.layers[0].stride == 1);
    CHECK(cnn.layers[0].padding == -1);
    CHECK(cnn.layers[1].kind == Kind::Norm);
    CHECK(cnn.layers[2].kind == Kind::Activation);
    CHECK(cnn.layers[2].activation == "relu");
    CHECK(cnn.layers[3].kind == Kind::MaxPool);
    CHECK(cnn.layers[3].kernel == 2);
    CHECK(cnn.layers[4].kind == Kind::Residual);
    REQUIRE(cnn.layers[4].inner.size() == 5);
    CHECK(cnn.layers[4].inner[3].kind == Kind::Conv);
    CHECK(cnn.layers[4].position == 30);
    CHECK(cnn.layers[6].kind == Kind::GlobalAvgPool);
    CHECK(cnn.layers[7].kind == Kind::Dense);
    CHECK(cnn.layers[7].size == 10);

    const Arch mlp = parse_arch("dense:64,norm,relu,dense:10");
    REQUIRE(mlp.layers.size() == 4);
    CHECK(mlp.layers[0].size == 64);
    CHECK(mlp.layers[0].position == 0);
    CHECK(mlp.layers[1].position == 9);
}

TEST_CASE("arch: every layer kind and option", "[arch]") {
    const Arch a = parse_arch(
        " conv5x5:8:s2:p1 , batchnorm,layernorm,groupnorm:4,rmsnorm,sigmoid,tanh,act,avgpool3,"
        "dropout:0.25,flatten,res(dense:8,res(relu))");
    REQUIRE(a.layers.size() == 12);
    CHECK(a.layers[0].kernel == 5);
    CHECK(a.layers[0].stride == 2);
    CHECK(a.layers[0].padding == 1);
    CHECK(a.layers[0].position == 1);
    CHECK(a.layers[1].kind == Kind::BatchNorm);
    CHECK(a.layers[2].kind == Kind::LayerNorm);
    CHECK(a.layers[3].kind == Kind::GroupNorm);
    CHECK(a.layers[3].size == 4);
    CHECK(a.layers[4].kind == Kind::RMSNorm);
    CHECK(a.layers[7].activation.empty());  // act: the --activation one
    CHECK(a.layers[8].kind == Kind::AvgPool);
    CHECK(a.layers[8].kernel == 3);
    CHECK(a.layers[9].rate == 0.25f);
    CHECK(a.layers[10].kind == Kind::Flatten);
    CHECK(a.layers[11].inner[1].inner[0].kind == Kind::Activation);
}

TEST_CASE("arch: errors name the token, its position and what was expected", "[arch]") {
    struct Case {
        std::string spec, message;
    };
    for (const Case& c : std::vector<Case>{
             {"", "the end at character 1: expected a layer"},
             {"dense:64,,relu", "',' at character 10: expected a layer"},
             {"dense",
              "'dense' at character 1: expected one argument after 'dense:', as in "
              "dense:64"},
             {"dense:0",
              "'dense:0' at character 1: expected a number of features (1..1048576), "
              "got '0'"},
             {"relu,conv3x3", "'conv3x3' at character 6: expected the number of output channels"},
             {"conv3x5:8", "expected a square kernel written convKxK"},
             {"conv3x3:8:q1", "expected ':sS' (stride) or ':pP' (padding), got ':q1'"},
             {"maxpool", "expected the pooling size after 'maxpool', as in maxpool2"},
             {"dropout:1", "expected a dropout rate in [0, 1), got '1'"},
             {"relu:2", "'relu' takes no ':' argument"},
             {"res(relu",
              "the end at character 9: expected ')' to close the residual block "
              "opened at character 1"},
             {"res relu", "expected '(' and the block's layers"},
             {"res()", "')' at character 5: expected a layer"},
             {"dense:8)", "')' at character 8: expected ',' or the end of the spec"},
             {"norm(relu)", "only res takes a block in parentheses"},
             {"bogus", "'bogus' at character 1: unknown layer"},
         }) {
        INFO(c.spec);
        CHECK_THROWS_AS(parse_arch(c.spec), ArchError);
        CHECK_THROWS_WITH(parse_arch(c.spec),
                          Contains("--arch '" + c.spec + "': ") && Contains(c.message));
    }
}

TEST_CASE("arch: a control byte is named, and never cuts the message short", "[arch]") {
    // Found by fuzz_arch: a NUL inside a spec (from a binary @FILE) ended the message's C string
    // before the position.
    const std::string spec("dense:64,norm,relu,den\0\0se:10", 29);
    try {
        parse_arch(spec);
        FAIL("expected an ArchError");
    } catch (const ArchError& e) {
        CHECK_THAT(e.what(), Contains(": byte 0x00 at character 23: expected printable text") &&
                                 Contains("den\\x00\\x00se:10"));
    }
}
