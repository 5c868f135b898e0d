#include "model_files.hpp"

#include <fmt/format.h>

#include <filesystem>

#include "commands.hpp"
#include "normgrad/activity.hpp"
#include "normgrad/stop.hpp"

namespace normgrad::cli {

train::LoadedModel load_model_file(const std::string& path) {
    train::LoadedModel m;
    {
        Activity activity(fmt::format("loading the model {}", path));
        m = train::load_model(path);
    }
    throw_if_stop_requested("loading the model: nothing was written");
    return m;
}

std::string describe_model(const train::ModelSpec& spec) {
    return fmt::format("{} with {}", spec.kind == "arch" ? "--arch " + spec.arch : spec.kind,
                       train::describe(spec.norm));
}

Dataset load_test_set_for(const train::ModelSpec& spec, const std::string& model_path,
                          const std::string& data_dir) {
    Dataset test_set;
    try {
        Activity activity(fmt::format("loading the test set in {}", data_dir));
        test_set = load_mnist_split(data_dir, false);
    } catch (const DataError& e) {
        throw UsageError(e.what());
    }
    throw_if_stop_requested("loading the test set: nothing was written");
    if (test_set.rows != spec.image_rows || test_set.cols != spec.image_cols)
        throw UsageError(fmt::format(
            "{}: the test images are {}x{}, but the model in {} was trained on {}x{} images",
            (std::filesystem::path(data_dir) / "t10k-images-idx3-ubyte").string(), test_set.rows,
            test_set.cols, model_path, spec.image_rows, spec.image_cols));
    return test_set;
}

}  // namespace normgrad::cli
