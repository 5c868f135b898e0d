// normgrad eval: test accuracy of a saved model.
#include <fmt/format.h>

#include <memory>

#include "commands.hpp"
#include "normgrad/idx.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/train/trainer.hpp"

namespace normgrad::cli {

namespace {

struct EvalFlags {
    std::string load_path;
    std::string data_dir = "data/mnist";
    int threads = 1;
};

int run_eval(const EvalFlags& f) {
    if (f.threads < 1 || f.threads > 256)
        throw UsageError(fmt::format("--threads must lie in 1..256, got {}", f.threads));
    set_num_threads(f.threads);
    Dataset test_set;
    try {
        test_set = load_mnist_split(f.data_dir, false);
    } catch (const DataError& e) {
        throw UsageError(e.what());
    }
    train::LoadedModel m = train::load_model(f.load_path);
    const double acc = train::evaluate(*m.model, test_set);
    fmt::print("{}: {} with BatchNorm {}: test accuracy {:.2f}% on {} images\n", f.load_path,
               m.spec.kind, m.spec.batchnorm ? "on" : "off", 100.0 * acc, test_set.count);
    return 0;
}

}  // namespace

void add_eval(CLI::App& app, Command& command) {
    auto f = std::make_shared<EvalFlags>();
    CLI::App* sub = app.add_subcommand("eval", "Report the test accuracy of a saved model");
    sub->add_option("--load", f->load_path, "A checkpoint written by normgrad train --save")
        ->required();
    sub->add_option("--data", f->data_dir, "Folder with the MNIST-format IDX files")
        ->capture_default_str();
    sub->add_option("--threads", f->threads, "Threads")->capture_default_str();
    sub->callback([f, &command] { command.run = [f] { return run_eval(*f); }; });
}

}  // namespace normgrad::cli
