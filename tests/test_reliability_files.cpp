// Reliability cases (reliability.hpp): output paths, checks before training, damaged models.
#include <sys/stat.h>

#include <fstream>

#include "normgrad/safetensors.hpp"
#include "reliability.hpp"

using namespace normgrad::testing;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

bool no_temporaries() {
    for (const auto& e : fs::directory_iterator("."))
        if (e.path().filename().string().find("normgrad-tmp") != std::string::npos) return false;
    return true;
}

// A run that holds --log shared.jsonl while the case's command runs, then is stopped.
Run while_another_run_writes(const std::string& command) {
    Child first(
        "train --data data --epochs 100 --batch 32 --log-every 1 --log shared.jsonl "
        "--checkpoint first.safetensors");
    REQUIRE(first.wait_for("step 1/8"));
    Run second = run(command.substr(command.find(' ') + 1));
    first.signal(SIGINT);
    const Run a = first.finish();
    INFO("the first run's output:\n" << a.output);
    CHECK(a.status == 130);  // the first run was not disturbed: it stops when asked, as always
    CHECK_THAT(read_file("shared.jsonl"), Contains(R"("status":"interrupted")"));
    return second;
}

// The images of `prefix` in data/ replaced by n of rows x cols.
void images(const std::string& prefix, int rows, int cols) {
    fs::remove("data/" + prefix + "-images-idx3-ubyte");
    fs::remove("data/" + prefix + "-labels-idx1-ubyte");
    write_split("data", prefix, prefix == "train" ? 256 : 64, 7, rows, cols);
}

}  // namespace

TEST_CASE("reliability: outputs never destroy anything", "[reliability]") {
    const auto untouched = [](const std::string& file, uintmax_t size) {
        return [file, size](const Run&) {
            CHECK(fs::file_size(file) == size);
            CHECK(no_temporaries());
        };
    };
    check_reliability_group(
        "outputs", "Output paths never destroy anything",
        {
            {.title = "--log and --save name one file",
             .command = "normgrad train --data data --log out --save out",
             .status = 2,
             .expect = "name the same file",
             .verify = [](const Run&) { CHECK(!fs::exists("out")); }},
            {.title = "--log and --checkpoint name one file",
             .setup = "echo keep > ck.safetensors",
             .command = "normgrad train --data data --log ck.safetensors --checkpoint "
                        "ck.safetensors",
             .status = 2,
             .expect = "name the same file",
             .verify = untouched("ck.safetensors", 5)},
            {.title = "--save names an input file",
             .command = "normgrad train --data data --save data/train-images-idx3-ubyte",
             .status = 2,
             .expect = "is an input of this run",
             .verify = untouched("data/train-images-idx3-ubyte", 16 + 256 * 784)},
            {.title = "--save is a hard link to an input",
             .setup = "ln data/t10k-labels-idx1-ubyte labels",
             .command = "normgrad train --data data --save labels",
             .status = 2,
             .expect = "is an input of this run",
             .verify = untouched("data/t10k-labels-idx1-ubyte", 8 + 64)},
            {.title = "--save through a symbolic link: the link stays, its target is replaced",
             .setup = "echo old > real.safetensors && ln -s real.safetensors link.safetensors",
             .command = "normgrad train --data data --max-steps 1 --no-progress --save "
                        "link.safetensors",
             .status = 0,
             .expect = "saved",
             .verify =
                 [](const Run&) {
                     CHECK(fs::is_symlink("link.safetensors"));
                     CHECK(fs::file_size("real.safetensors") > 1000);
                     CHECK(no_temporaries());
                 }},
            // A device node of the case's own (a symbolic link to /dev/null where mknod is not
            // allowed): were the check to regress, a test run as root must not replace the
            // system's /dev/null.
            {.title = "--log is a device",
             .setup = "mknod null c 1 3 || ln -s /dev/null null",
             .command = "normgrad train --data data --log null",
             .status = 2,
             .expect = "is a character device",
             .verify = [](const Run&) { CHECK(fs::is_character_file("null")); }},
            {.title = "--save is a directory",
             .setup = "mkdir out",
             .command = "normgrad train --data data --save out",
             .status = 2,
             .expect = "is a directory",
             .verify = [](const Run&) { CHECK(fs::is_directory("out")); }},
            {.title = "--log is a FIFO",
             .setup = "mkfifo pipe",
             .command = "normgrad train --data data --log pipe",
             .status = 2,
             .expect = "is a FIFO",
             .verify = [](const Run&) { CHECK(fs::is_fifo("pipe")); }},
            {.title = "compare --out is a file",
             .setup = "echo keep > report",
             .command = "normgrad compare --data data --out report",
             .status = 2,
             .expect = "expected a folder",
             .verify = untouched("report", 5)},
            {.title = "two runs write the same --log at once",
             .command = "normgrad train --data data --log shared.jsonl --checkpoint "
                        "second.safetensors",
             .status = 2,
             .expect = "in use by another normgrad run",
             .runner = while_another_run_writes,
             .shown_runner = "(while another run writes shared.jsonl)",
             .verify = [](const Run&) { CHECK(!fs::exists("second.safetensors")); }},
            {.title = "a temporary left by a killed run is removed by the next run writing "
                      "that file",
             .setup = "touch m.safetensors.normgrad-tmp-999999 m.safetensors.normgrad-tmp-1",
             .command = "normgrad train --data data --max-steps 1 --no-progress --save "
                        "m.safetensors",
             .status = 0,
             .expect = "saved",
             .verify =
                 [](const Run&) {
                     CHECK(!fs::exists("m.safetensors.normgrad-tmp-999999"));  // writer gone
                     CHECK(fs::exists("m.safetensors.normgrad-tmp-1"));        // pid 1 runs: kept
                 }},
        });
}

TEST_CASE("reliability: what does not fit is refused before training", "[reliability]") {
    const auto before_training = [](const Run& r) {
        CHECK_THAT(r.output, !Contains("epoch 1:"));
        CHECK(no_temporaries());
    };
    check_reliability_group(
        "startup", "Failing before training, not after",
        {
            {.title = "--save into a folder that does not exist",
             .command = "normgrad train --data data --epochs 3 --save nowhere/m.safetensors",
             .status = 2,
             .expect = "does not exist",
             .verify = before_training},
            {.title = "test images of another size than the training images",
             .setup = "data/t10k-images-idx3-ubyte holds 32x32 images",
             .command = "normgrad train --data data",
             .status = 2,
             .expect = "the test images are 32x32",
             .prepare = [] { images("t10k", 32, 32); },
             .verify = before_training},
            {.title = "test images of 14x56 (784 pixels, as 28x28)",
             .setup = "data/t10k-images-idx3-ubyte holds 14x56 images",
             .command = "normgrad train --data data",
             .status = 2,
             .expect = "the test images are 14x56",
             .prepare = [] { images("t10k", 14, 56); },
             .verify = before_training},
            {.title = "training images too small for the cnn",
             .setup = "data/ holds 3x3 images",
             .command = "normgrad train --data data --model cnn",
             .status = 2,
             .expect = "a 2x2 pooling window does not fit the 1x1 images it gets",
             .prepare =
                 [] {
                     images("train", 3, 3);
                     images("t10k", 3, 3);
                 },
             .verify = before_training},
            {.title = "a model too large for the machine",
             .command = "normgrad train --data data --hidden 65536",
             .status = 2,
             .expect = "too large for this machine",
             .verify = before_training},
            {.title = "eval on test images of another size than the model's",
             .setup = "other/ holds a test set of 32x32 images",
             .command = "normgrad train --data data --max-steps 1 --no-progress --save "
                        "m.safetensors && normgrad eval --load m.safetensors --data other",
             .status = 2,
             .expect = "the test images are 32x32",
             .prepare =
                 [] {
                     fs::create_directories("other");
                     write_split("other", "t10k", 64, 7, 32, 32);
                 }},
        });
}

TEST_CASE("reliability: damaged models and checkpoints", "[reliability]") {
    const auto edit = [](const std::string& from, const std::string& to) {
        return [from, to] {
            REQUIRE(
                run("train --data data --max-steps 1 --no-progress --save m.safetensors").status ==
                0);
            std::string bytes = read_file("m.safetensors");
            const size_t at = bytes.find(from);
            REQUIRE(at != std::string::npos);
            bytes.replace(at, from.size(), to);
            std::ofstream("m.safetensors", std::ios::binary | std::ios::trunc) << bytes;
        };
    };
    const auto saved_with = [](const std::function<void(normgrad::Checkpoint&)>& change) {
        return [change] {
            REQUIRE(
                run("train --data data --max-steps 1 --no-progress --save m.safetensors").status ==
                0);
            normgrad::Checkpoint c = normgrad::load_checkpoint("m.safetensors");
            change(c);
            normgrad::save_checkpoint("m.safetensors", c);
        };
    };
    check_reliability_group(
        "integrity", "Damaged models and checkpoints",
        {
            {.title = "a model whose header was edited into other valid JSON",
             .setup = "m.safetensors from train --save, its metadata relu edited to tanh",
             .command = "normgrad eval --data data --load m.safetensors",
             .status = 1,
             .expect = "checksum mismatch",
             .varies = {{R"(CRC-32 is [0-9a-f]{8}, the metadata records [0-9a-f]{8})",
                         "CRC-32 is X, the metadata records Y"}},
             .prepare = edit("\"relu\"", "\"tanh\"")},
            {.title = "a model whose checksum key was renamed",
             .setup = "m.safetensors from train --save, normgrad.crc32 renamed normgrad.crc33",
             .command = "normgrad eval --data data --load m.safetensors",
             .status = 1,
             .expect = "normgrad.crc32",
             .prepare = edit("normgrad.crc32", "normgrad.crc33")},
            {.title = "a model holding NaN",
             .setup = "m.safetensors: a saved model with fc1.weight[3] = NaN",
             .command = "normgrad eval --data data --load m.safetensors",
             .status = 1,
             .expect = "holds nan",
             .prepare = saved_with([](normgrad::Checkpoint& c) {
                 for (auto& t : c.tensors)
                     if (t.name == "fc1.weight") t.tensor.data()[3] = NAN;
             })},
            {.title = "--init-from a model holding infinity",
             .setup = "m.safetensors: a saved model with fc1.weight[0] = inf",
             .command = "normgrad train --data data --init-from m.safetensors",
             .status = 1,
             .expect = "holds inf",
             .prepare = saved_with([](normgrad::Checkpoint& c) {
                 for (auto& t : c.tensors)
                     if (t.name == "fc1.weight") t.tensor.data()[0] = INFINITY;
             })},
        });
}
