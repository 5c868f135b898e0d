// normgrad eval: test accuracy of a saved model.
#include <fmt/format.h>

#include <filesystem>
#include <memory>

#include "commands.hpp"
#include "flags.hpp"
#include "model_files.hpp"
#include "normgrad/activity.hpp"
#include "normgrad/idx.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/train/evaluate.hpp"
#include "normgrad/train/model_io.hpp"
#include "normgrad/train/trainer.hpp"

namespace normgrad::cli {

namespace {

struct EvalFlags {
    std::string load_path;
    std::string data_dir = "data/mnist";
    int threads = 1;
};

int run_eval(const EvalFlags& f) {
    set_num_threads(f.threads);
    train::LoadedModel m = load_model_file(f.load_path);
    const Dataset test_set = load_test_set_for(m.spec, f.load_path, f.data_dir);
    Activity activity("evaluating");
    const train::Evaluation ev = train::evaluate(*m.model, test_set, 128, m.spec.input);
    fmt::print("{}: {}: test accuracy {:.2f}%, test loss {:.4f} on {} images\n", f.load_path,
               describe_model(m.spec), 100.0 * ev.accuracy, ev.loss, test_set.count);
    return 0;
}

}  // namespace

void add_eval(CLI::App& app, Command& command) {
    auto f = std::make_shared<EvalFlags>();
    CLI::App* sub = app.add_subcommand("eval", "Report the test accuracy of a saved model");
    sub->add_option("--load", f->load_path, "A model written by normgrad train --save")->required();
    sub->add_option("--data", f->data_dir, "Folder with the MNIST-format IDX files")
        ->capture_default_str();
    add_int(sub, "--threads", f->threads, 1, 256, "Threads");
    sub->callback([f, &command] { command.run = [f] { return run_eval(*f); }; });
}

}  // namespace normgrad::cli
