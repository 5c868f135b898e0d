// The normgrad program end to end, on a tiny generated MNIST-format data set (never a claim
// about MNIST): flag errors, missing data, determinism, save/eval, damaged checkpoints.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "normgrad/random.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

struct Run {
    int status;
    std::string output;
};

Run run(const std::string& args) {
    const std::string cmd = std::string(NORMGRAD_BINARY_DIR) + "/normgrad " + args + " 2>&1";
    Run r{-1, ""};
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

void write_be32(std::ofstream& f, uint32_t v) {
    const unsigned char b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
    f.write(reinterpret_cast<const char*>(b), 4);
}

// n images of 28x28 whose brightest quadrant encodes the label (learnable), plus labels.
void write_split(const fs::path& dir, const std::string& prefix, int n, uint64_t seed) {
    normgrad::Rng rng(seed);
    std::ofstream img(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary);
    std::ofstream lab(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary);
    write_be32(img, 0x803);
    write_be32(img, uint32_t(n));
    write_be32(img, 28);
    write_be32(img, 28);
    write_be32(lab, 0x801);
    write_be32(lab, uint32_t(n));
    for (int i = 0; i < n; ++i) {
        const int label = int(rng.below(4));
        for (int r = 0; r < 28; ++r)
            for (int c = 0; c < 28; ++c) {
                const bool lit = (r / 14) * 2 + (c / 14) == label;
                img.put(char(lit ? 150 + rng.below(100) : rng.below(40)));
            }
        lab.put(char(label));
    }
}

struct TinyData {
    fs::path dir;
    TinyData() {
        dir = fs::temp_directory_path() / ("normgrad-cli-test-" + std::to_string(::getpid()));
        fs::create_directories(dir);
        write_split(dir, "train", 256, 1);
        write_split(dir, "t10k", 64, 2);
    }
    ~TinyData() { fs::remove_all(dir); }
    std::string data() const { return " --data " + dir.string(); }
    std::string file(const std::string& name) const { return (dir / name).string(); }
};

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

// The log without its wall-clock times, the one field that may differ between identical runs.
std::string without_times(std::string log) {
    for (size_t p; (p = log.find(",\"train_seconds\":")) != std::string::npos;)
        log.erase(p, log.find('}', p) - p);
    return log;
}

}  // namespace

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
