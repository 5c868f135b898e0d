// Trains an MLP whose activations are the custom LeakyReLU layer, for one epoch on MNIST.
//   ./build/custom_layer_example [data/mnist]
#include <fmt/format.h>

#include "leaky_relu_layer.hpp"
#include "normgrad/layers/dense.hpp"
#include "normgrad/layers/flatten.hpp"
#include "normgrad/layers/sequential.hpp"
#include "normgrad/train/trainer.hpp"

int main(int argc, char** argv) try {
    using namespace normgrad;
    const std::string data = argc > 1 ? argv[1] : "data/mnist";
    const Dataset train_set = load_mnist_split(data, true),
                  test_set = load_mnist_split(data, false);

    Rng rng(0);
    Sequential model;
    model.emplace<Flatten>("flatten")
        .emplace<Dense>("fc1", 784, 256, rng)
        .emplace<example::LeakyReLU>("act1", 0.01f)
        .emplace<Dense>("fc2", 256, 10, rng);
    fmt::print("{}\n", model.describe());

    train::TrainConfig config;  // batch 128, SGD momentum 0.9, lr 0.05, one epoch
    config.progress = false;
    const auto result = train::train(config, model, train_set, test_set);
    fmt::print("test accuracy after one epoch: {:.2f}%\n",
               100.0 * result.epochs.back().test_accuracy);
    return 0;
} catch (const std::exception& e) {
    fmt::print(stderr, "custom_layer_example: {}\n", e.what());
    return 1;
}
