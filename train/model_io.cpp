// Saving and loading a trained model: the safetensors checkpoint plus the model's description.
#include <fmt/format.h>

#include <stdexcept>

#include "normgrad/safetensors.hpp"
#include "normgrad/train/trainer.hpp"

namespace normgrad::train {

namespace {

std::string meta(const Checkpoint& c, const std::string& path, const std::string& key) {
    auto it = c.metadata.find(key);
    if (it == c.metadata.end())
        throw CheckpointError(fmt::format(
            "{}: metadata has no '{}' (expected a checkpoint written by normgrad train)", path,
            key));
    return it->second;
}

int64_t meta_int(const Checkpoint& c, const std::string& path, const std::string& key, int64_t lo,
                 int64_t hi) {
    const std::string v = meta(c, path, key);
    size_t used = 0;
    int64_t n = 0;
    try {
        n = std::stoll(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != v.size() || v.empty() || n < lo || n > hi)
        throw CheckpointError(fmt::format(
            "{}: metadata '{}' is '{}' (expected an integer in {}..{})", path, key, v, lo, hi));
    return n;
}

}  // namespace

void save_model(const std::string& path, const Module& model, const ModelSpec& spec,
                const Optimizer* optimizer) {
    Checkpoint c;
    c.tensors = model.state();
    if (optimizer) {
        for (auto& t : optimizer->state())
            c.tensors.push_back({kOptimizerPrefix + t.name, t.tensor});
        c.metadata["normgrad.optimizer"] = optimizer->kind();
    }
    c.metadata["normgrad.model"] = spec.kind;
    c.metadata["normgrad.batchnorm"] = spec.batchnorm ? "on" : "off";
    c.metadata["normgrad.hidden"] = std::to_string(spec.hidden);
    c.metadata["normgrad.depth"] = std::to_string(spec.depth);
    c.metadata["normgrad.activation"] = to_string(spec.activation);
    save_checkpoint(path, c);
}

LoadedModel load_model(const std::string& path) {
    const Checkpoint c = load_checkpoint(path);
    LoadedModel out;
    out.spec.kind = meta(c, path, "normgrad.model");
    if (out.spec.kind != "mlp" && out.spec.kind != "cnn")
        throw CheckpointError(fmt::format(
            "{}: metadata 'normgrad.model' is '{}' (expected mlp or cnn)", path, out.spec.kind));
    const std::string bn = meta(c, path, "normgrad.batchnorm");
    if (bn != "on" && bn != "off")
        throw CheckpointError(fmt::format(
            "{}: metadata 'normgrad.batchnorm' is '{}' (expected on or off)", path, bn));
    out.spec.batchnorm = bn == "on";
    out.spec.hidden = meta_int(c, path, "normgrad.hidden", 1, 1 << 20);
    out.spec.depth = static_cast<int>(meta_int(c, path, "normgrad.depth", 1, 1000));
    try {
        out.spec.activation = parse_activation(meta(c, path, "normgrad.activation"));
    } catch (const std::invalid_argument& e) {
        throw CheckpointError(fmt::format("{}: metadata: {}", path, e.what()));
    }
    Rng rng(0);
    out.model = build_model(out.spec, rng);
    // Model tensors go into the model; "optimizer.*" tensors are handed back separately.
    Checkpoint model_part;
    const std::string prefix = kOptimizerPrefix;
    for (const auto& t : c.tensors) {
        if (t.name.rfind(prefix, 0) == 0)
            out.optimizer_state.push_back({t.name.substr(prefix.size()), t.tensor});
        else
            model_part.tensors.push_back(t);
    }
    copy_into(model_part, out.model->state(), path);
    if (auto it = c.metadata.find("normgrad.optimizer"); it != c.metadata.end())
        out.optimizer_kind = it->second;
    return out;
}

}  // namespace normgrad::train
