// What a `normgrad train` run starts from, written out so that PyTorch can start there too
// (bench/same_start.py): the initial model as a safetensors file under PyTorch's names, and the
// order in which the first epoch visits the training images, one index per line.
//
//   same_start MODEL NORM SEED COUNT DIR        e.g. same_start cnn on 0 60000 /tmp/start
//   same_start --arch SPEC NORM SEED COUNT DIR
//       e.g. same_start --arch @examples/specs/resmlp20.arch group 0 60000 /tmp/start
//   MODEL: mlp or cnn (the presets, at their default sizes); SPEC: an --arch spec, or @FILE
//   holding one (lines starting with '#' are comments, as for `normgrad train --arch @FILE`);
//   NORM: on or off (--batchnorm's words), or none, batch, layer, group, group:G, rms (--norm's).
//   -> DIR/init.safetensors, DIR/order.txt (a permutation of 0..COUNT-1, COUNT = the number of
//      training images; same_start.py reads it from the data set)
#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <sstream>
#include <string>

#include "normgrad/train/batches.hpp"
#include "normgrad/train/model_io.hpp"
#include "normgrad/train/models.hpp"
#include "normgrad/train/trainer.hpp"

using namespace normgrad;

namespace {

// The spec of --arch SPEC or --arch @FILE, as examples/cli/training_flags.cpp reads it.
std::string arch_text(const std::string& value) {
    if (value.empty() || value[0] != '@') return value;
    std::ifstream in(value.substr(1));
    if (!in) throw std::runtime_error(value.substr(1) + ": cannot read the spec file");
    std::string spec;
    for (std::string line; std::getline(in, line);) {
        const size_t first = line.find_first_not_of(" \t\r");
        if (first != std::string::npos && line[first] != '#') spec += line + " ";
    }
    return spec;
}

}  // namespace

int main(int argc, char** argv) {
    const bool arch = argc == 7 && std::string(argv[1]) == "--arch";
    if (argc != 6 && !arch) {
        fmt::print(stderr,
                   "usage: same_start {{mlp|cnn|--arch SPEC|--arch @FILE}} "
                   "{{on|off|none|batch|layer|group|group:G|rms}} SEED COUNT DIR\n");
        return 2;
    }
    char** a = arch ? argv + 1 : argv;  // a[1]..a[5]: MODEL (or SPEC), NORM, SEED, COUNT, DIR
    try {
        train::ModelSpec spec;
        if (arch) {
            spec.kind = "arch";
            spec.arch = arch_text(a[1]);
        } else {
            spec.kind = a[1];
        }
        const std::string norm = a[2];
        spec.norm = norm == "on"    ? train::Norm::batch()
                    : norm == "off" ? train::Norm::none()
                                    : train::parse_norm(norm);
        const uint64_t seed = std::stoull(a[3]);
        const int64_t count = std::stoll(a[4]);
        if (count <= 0) throw std::invalid_argument("COUNT: expected a positive image count");
        const std::string dir = a[5];
        // As examples/cli/train_command.cpp and train/trainer.cpp draw them.
        Rng init_rng(seed);
        auto model = train::build_model(spec, init_rng);
        train::save_model(dir + "/init.safetensors", *model, spec);
        Rng order_rng = train::data_order_rng(seed);
        const auto order = train::epoch_order(count, &order_rng);
        const std::string path = dir + "/order.txt", tmp = path + ".tmp";
        std::FILE* f = std::fopen(tmp.c_str(), "w");
        if (!f) throw std::runtime_error(tmp + ": cannot open for writing");
        for (int64_t i : order) fmt::print(f, "{}\n", i);
        if (std::fclose(f) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0)
            throw std::runtime_error(path + ": cannot write");
    } catch (const std::exception& e) {
        fmt::print(stderr, "same_start: {}\n", e.what());
        return 1;
    }
    return 0;
}
