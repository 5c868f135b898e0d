// Saving and loading models and resumable checkpoints.
#include "normgrad/train/model_io.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <stdexcept>

#include "normgrad/safetensors.hpp"

namespace normgrad::train {

namespace {

constexpr const char* kRunKey = "normgrad.resume.run";

std::string meta(const Checkpoint& c, const std::string& path, const std::string& key) {
    auto it = c.metadata.find(key);
    if (it == c.metadata.end())
        throw CheckpointError(fmt::format(
            "{}: metadata has no '{}' (expected a model written by normgrad train)", path, key));
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

// The parts of a training checkpoint: model tensors (into `model_part`) and optimizer tensors.
std::vector<NamedTensor> split_optimizer_state(const Checkpoint& c, Checkpoint* model_part) {
    std::vector<NamedTensor> optimizer_state;
    const std::string prefix = kOptimizerPrefix;
    for (const auto& t : c.tensors) {
        if (t.name.rfind(prefix, 0) == 0)
            optimizer_state.push_back({t.name.substr(prefix.size()), t.tensor});
        else
            model_part->tensors.push_back(t);
    }
    return optimizer_state;
}

// Model tensors, optimizer tensors and the model description.
Checkpoint model_checkpoint(const Module& model, const ModelSpec& spec,
                            const Optimizer* optimizer) {
    Checkpoint c;
    c.tensors = model.state();
    if (optimizer) {
        for (auto& t : optimizer->state())
            c.tensors.push_back({kOptimizerPrefix + t.name, t.tensor});
        c.metadata["normgrad.optimizer"] = optimizer->kind();
    }
    // The model's description: enough for `normgrad eval` and examples/load_in_pytorch.py to
    // rebuild it (normgrad.arch is the spec text, the presets' included).
    c.metadata["normgrad.model"] = spec.kind;
    c.metadata["normgrad.arch"] = spec_text(spec);
    c.metadata["normgrad.norm"] = to_string(spec.norm);
    c.metadata["normgrad.hidden"] = std::to_string(spec.hidden);
    c.metadata["normgrad.depth"] = std::to_string(spec.depth);
    c.metadata["normgrad.activation"] = to_string(spec.activation);
    c.metadata["normgrad.input"] = to_string(spec.input);
    c.metadata["normgrad.image_rows"] = std::to_string(spec.image_rows);
    c.metadata["normgrad.image_cols"] = std::to_string(spec.image_cols);
    c.metadata["normgrad.classes"] = std::to_string(spec.classes);
    return c;
}

// A loaded file's values, finite, copied into `model`.
void restore_model(const Checkpoint& c, const std::string& path, Module& model,
                   std::vector<NamedTensor>* optimizer_state) {
    check_finite(c, path);
    Checkpoint model_part;
    *optimizer_state = split_optimizer_state(c, &model_part);
    copy_into(model_part, model.state(), path);
}

}  // namespace

void save_model(const std::string& path, const Module& model, const ModelSpec& spec,
                const Optimizer* optimizer) {
    save_checkpoint(path, model_checkpoint(model, spec, optimizer));
}

LoadedModel load_model(const std::string& path) {
    const Checkpoint c = load_checkpoint(path);
    LoadedModel out;
    out.spec.kind = meta(c, path, "normgrad.model");
    if (out.spec.kind != "mlp" && out.spec.kind != "resmlp" && out.spec.kind != "cnn" &&
        out.spec.kind != "arch")
        throw CheckpointError(
            fmt::format("{}: metadata 'normgrad.model' is '{}' (expected mlp, resmlp, cnn or arch)",
                        path, out.spec.kind));
    // Files of normgrad before --norm and --arch say normgrad.batchnorm on|off instead.
    auto found = [&](const char* key) { return c.metadata.count(key) != 0; };
    try {
        if (found("normgrad.norm")) {
            out.spec.norm = parse_norm(meta(c, path, "normgrad.norm"));
        } else {
            const std::string bn = meta(c, path, "normgrad.batchnorm");
            if (bn != "on" && bn != "off")
                throw CheckpointError(fmt::format(
                    "{}: metadata 'normgrad.batchnorm' is '{}' (expected on or off)", path, bn));
            out.spec.norm = bn == "on" ? Norm::batch() : Norm::none();
        }
        out.spec.activation = parse_activation(meta(c, path, "normgrad.activation"));
        if (found("normgrad.input"))
            out.spec.input = parse_input_scaling(meta(c, path, "normgrad.input"));
    } catch (const CheckpointError&) {
        throw;
    } catch (const std::invalid_argument& e) {
        throw CheckpointError(fmt::format("{}: metadata: {}", path, e.what()));
    }
    out.spec.hidden = meta_int(c, path, "normgrad.hidden", 1, 1 << 20);
    out.spec.depth = static_cast<int>(meta_int(c, path, "normgrad.depth", 1, 1000));
    out.spec.image_rows = meta_int(c, path, "normgrad.image_rows", 1, 1 << 16);
    out.spec.image_cols = meta_int(c, path, "normgrad.image_cols", 1, 1 << 16);
    if (found("normgrad.classes"))
        out.spec.classes = meta_int(c, path, "normgrad.classes", 2, 1 << 16);
    if (out.spec.kind == "arch") out.spec.arch = meta(c, path, "normgrad.arch");
    if (const std::string why =
            image_size_problem(out.spec, out.spec.image_rows, out.spec.image_cols);
        !why.empty())
        throw CheckpointError(fmt::format("{}: metadata: {}", path, why));
    Rng rng(0);
    out.model = build_model(out.spec, rng);
    restore_model(c, path, *out.model, &out.optimizer_state);
    if (auto it = c.metadata.find("normgrad.optimizer"); it != c.metadata.end())
        out.optimizer_kind = it->second;
    if (auto it = c.metadata.find(kCheckpointChecksumKey); it != c.metadata.end())
        out.checksum = it->second;
    return out;
}

void save_resume_point(const std::string& path, const RunSettings& settings, const ModelSpec& spec,
                       const Module& model, const Optimizer& opt, const ResumePoint& at) {
    Checkpoint c = model_checkpoint(model, spec, &opt);
    c.metadata[kRunKey] = to_json(settings);
    c.metadata["normgrad.resume.epoch"] = std::to_string(at.epoch);
    c.metadata["normgrad.resume.first"] = std::to_string(at.first);
    c.metadata["normgrad.resume.step"] = std::to_string(at.step);
    c.metadata["normgrad.resume.epoch_steps"] = std::to_string(at.epoch_steps);
    c.metadata["normgrad.resume.loss_sum"] = fmt::format("{:a}", at.loss_sum);  // exact
    c.metadata["normgrad.resume.epoch_rng"] = at.epoch_rng_state;
    c.metadata["normgrad.resume.training_rng"] = at.training_rng_state;
    save_checkpoint(path, c);
}

ResumePoint load_resume_point(const std::string& path, const RunSettings& settings, Module& model,
                              Optimizer& opt) {
    const Checkpoint c = load_checkpoint(path);
    const auto run = c.metadata.find(kRunKey);
    if (run == c.metadata.end()) {
        if (c.metadata.count("normgrad.model"))
            throw std::invalid_argument(fmt::format(
                "--resume {}: this is a model file (written by --save): it holds the weights but "
                "not the training state (optimizer state, position in the data) needed to continue "
                "a "
                "run step for step. To train on from these weights, start a new run with "
                "--init-from {}; to be able to resume, write checkpoints with --checkpoint FILE "
                "(and --checkpoint-every N)",
                path, path));
        throw std::invalid_argument(fmt::format(
            "--resume {}: not a normgrad checkpoint (its metadata has no '{}'; expected a file "
            "written by normgrad train --checkpoint)",
            path, kRunKey));
    }
    const RunSettings saved = settings_from_json(run->second);
    if (saved.empty())
        throw CheckpointError(
            fmt::format("{}: metadata '{}' is not a JSON object of settings", path, kRunKey));
    if (saved != settings) {
        std::string why;
        for (const auto& d : differences(saved, settings, "the checkpoint"))
            why += (why.empty() ? "" : "; ") + d;
        throw std::invalid_argument(fmt::format(
            "--resume {}: the checkpoint belongs to another run: {} (resume with the settings "
            "the checkpoint was written with, or start a new run without --resume)",
            path, why));
    }
    std::vector<NamedTensor> optimizer_state;
    restore_model(c, path, model, &optimizer_state);
    try {
        opt.load_state(optimizer_state);
    } catch (const std::exception& e) {
        throw CheckpointError(fmt::format("{}: optimizer state: {}", path, e.what()));
    }
    ResumePoint at;
    at.epoch = static_cast<int>(meta_int(c, path, "normgrad.resume.epoch", 1, 1 << 30));
    at.first = meta_int(c, path, "normgrad.resume.first", 0, int64_t(1) << 40);
    at.step = meta_int(c, path, "normgrad.resume.step", 0, int64_t(1) << 40);
    at.epoch_steps = meta_int(c, path, "normgrad.resume.epoch_steps", 0, int64_t(1) << 40);
    const std::string loss = meta(c, path, "normgrad.resume.loss_sum");
    char* end = nullptr;
    at.loss_sum = std::strtod(loss.c_str(), &end);
    if (loss.empty() || *end != '\0')
        throw CheckpointError(fmt::format(
            "{}: metadata 'normgrad.resume.loss_sum' is '{}' (expected a number)", path, loss));
    at.epoch_rng_state = meta(c, path, "normgrad.resume.epoch_rng");
    try {
        Rng probe;
        probe.set_state(at.epoch_rng_state);
    } catch (const std::exception& e) {
        throw CheckpointError(
            fmt::format("{}: metadata 'normgrad.resume.epoch_rng': {}", path, e.what()));
    }
    if (auto it = c.metadata.find("normgrad.resume.training_rng"); it != c.metadata.end()) {
        at.training_rng_state = it->second;
        try {
            Rng probe;
            probe.set_state(at.training_rng_state);
        } catch (const std::exception& e) {
            throw CheckpointError(
                fmt::format("{}: metadata 'normgrad.resume.training_rng': {}", path, e.what()));
        }
    }
    return at;
}

}  // namespace normgrad::train
