// What a `normgrad train` run starts from, written out so that PyTorch can start there too
// (bench/same_start.py): the initial model as a safetensors file under PyTorch's names, and the
// order in which the first epoch visits the training images, one index per line.
//
//   same_start MODEL BATCHNORM SEED COUNT DIR     e.g. same_start cnn on 0 60000 /tmp/start
//   -> DIR/init.safetensors, DIR/order.txt (a permutation of 0..COUNT-1, COUNT = the number of
//      training images; same_start.py reads it from the data set)
#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <string>

#include "normgrad/train/batches.hpp"
#include "normgrad/train/model_io.hpp"
#include "normgrad/train/models.hpp"
#include "normgrad/train/trainer.hpp"

using namespace normgrad;

int main(int argc, char** argv) {
    if (argc != 6) {
        fmt::print(stderr, "usage: same_start {{mlp|cnn}} {{on|off}} SEED COUNT DIR\n");
        return 2;
    }
    try {
        train::ModelSpec spec;
        spec.kind = argv[1];
        spec.norm = std::string(argv[2]) == "on" ? train::Norm::batch() : train::Norm::none();
        const uint64_t seed = std::stoull(argv[3]);
        const int64_t count = std::stoll(argv[4]);
        if (count <= 0) throw std::invalid_argument("COUNT: expected a positive image count");
        const std::string dir = argv[5];
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
