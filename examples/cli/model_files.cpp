#include "model_files.hpp"

#include <fmt/format.h>

#include <filesystem>

#include "normgrad/activity.hpp"
#include "normgrad/stop.hpp"
#include "usage_error.hpp"

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

Dataset load_split_for(const train::ModelSpec& spec, const std::string& model_path,
                       const std::string& data_dir, bool train_split) {
    const char* what = train_split ? "training" : "test";
    Dataset set;
    try {
        Activity activity(fmt::format("loading the {} set in {}", what, data_dir));
        set = load_mnist_split(data_dir, train_split);
    } catch (const DataError& e) {
        throw UsageError(e.what());
    }
    throw_if_stop_requested(fmt::format("loading the {} set: nothing was written", what));
    if (set.rows != spec.image_rows || set.cols != spec.image_cols)
        throw UsageError(fmt::format(
            "{}: the {} images are {}x{}, but the model in {} was trained on {}x{} images",
            (std::filesystem::path(data_dir) /
             (train_split ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte"))
                .string(),
            what, set.rows, set.cols, model_path, spec.image_rows, spec.image_cols));
    return set;
}

Dataset load_test_set_for(const train::ModelSpec& spec, const std::string& model_path,
                          const std::string& data_dir) {
    return load_split_for(spec, model_path, data_dir, false);
}

}  // namespace normgrad::cli
