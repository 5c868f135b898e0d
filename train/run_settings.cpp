#include "normgrad/train/run_settings.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "normgrad/train/trainer.hpp"

namespace normgrad::train {

namespace {

uint32_t crc32_of(uint32_t crc, const std::vector<uint8_t>& bytes) {
    return static_cast<uint32_t>(crc32_z(crc, bytes.data(), static_cast<z_size_t>(bytes.size())));
}

// The shortest text that reads back as the same value of its own type (0.05f is "0.05").
template <class T>
std::string number(T v) {
    return fmt::format("{}", v);
}

}  // namespace

std::string data_identity(const Dataset& data) {
    const uint32_t crc = crc32_of(crc32_of(crc32_z(0, nullptr, 0), data.images), data.labels);
    return fmt::format("{} images of {}x{}, CRC-32 {:08x}", data.count, data.rows, data.cols, crc);
}

RunSettings run_settings(const TrainConfig& c, const Dataset& train_set, int64_t steps_planned) {
    const ModelSpec& m = c.model;
    RunSettings s;
    if (m.kind == "arch") {
        s.push_back({"--arch", m.arch});
    } else {
        s.push_back({"--model", m.kind});
        if (sized_by_depth(m)) {
            s.push_back({"--hidden", std::to_string(m.hidden)});
            s.push_back({"--depth", std::to_string(m.depth)});
        }
    }
    s.push_back({"--norm", to_string(m.norm)});
    s.push_back({"--activation", to_string(m.activation)});
    if (m.init.kind == Init::Kind::Normal) {
        s.push_back({"--init", "normal"});
        s.push_back({"--init-std", number(m.init.std)});
    } else {
        s.push_back({"--init", to_string(m.init)});
    }
    s.push_back({"--input", to_string(m.input)});
    if (!c.init_from.empty()) s.push_back({"--init-from", c.init_from_identity});
    s.push_back({"--optimizer", c.optimizer});
    s.push_back({"--lr", number(c.lr)});
    if (c.optimizer == "sgd") {
        s.push_back({"--momentum", number(c.momentum)});
        s.push_back({"--nesterov", c.nesterov ? "on" : "off"});
    }
    s.push_back({"--weight-decay", number(c.weight_decay)});
    if (c.weight_decay > 0.f)
        s.push_back({"--no-decay-bias-norm", c.decay_bias_and_norm ? "off" : "on"});
    s.push_back({"--schedule", c.schedule});
    if (c.schedule != "constant")
        s.push_back({"the schedule's length (from --epochs and --max-steps)",
                     fmt::format("{} steps", steps_planned)});
    s.push_back({"--warmup", std::to_string(c.warmup_steps)});
    s.push_back({"--clip", number(c.clip_norm)});
    s.push_back({"--batch", std::to_string(c.batch)});
    s.push_back({"--drop-last", c.drop_last ? "on" : "off"});
    s.push_back({"--seed", std::to_string(c.seed)});
    s.push_back({"training data", data_identity(train_set)});
    if (c.comm && c.comm->size() > 1) {  // (one process: the settings of before, unchanged)
        s.push_back({"ranks (mpirun -np)", std::to_string(c.comm->size())});
        s.push_back({"--bn-sync", to_string(c.bn_sync)});
    }
    return s;
}

std::string to_json(const RunSettings& s) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const Setting& x : s) j[x.name] = x.value;
    return j.dump();
}

RunSettings settings_from_json(const std::string& json) {
    RunSettings s;
    try {
        const auto j = nlohmann::ordered_json::parse(json);
        if (!j.is_object()) return {};
        for (const auto& [k, v] : j.items()) {
            if (!v.is_string()) return {};
            s.push_back({k, v.get<std::string>()});
        }
    } catch (const nlohmann::json::exception&) {
        return {};
    }
    return s;
}

std::vector<std::string> differences(const RunSettings& saved, const RunSettings& now,
                                     const std::string& saved_where) {
    auto find = [](const RunSettings& s, const std::string& name) -> const Setting* {
        for (const Setting& x : s)
            if (x.name == name) return &x;
        return nullptr;
    };
    std::vector<std::string> out;
    for (const Setting& n : now) {
        const Setting* o = find(saved, n.name);
        if (!o)
            out.push_back(
                fmt::format("{} is {} now and not set in {}", n.name, n.value, saved_where));
        else if (o->value != n.value)
            out.push_back(
                fmt::format("{} is {} in {} and {} now", n.name, o->value, saved_where, n.value));
    }
    for (const Setting& o : saved)
        if (!find(now, o.name))
            out.push_back(
                fmt::format("{} is {} in {} and not set now", o.name, o.value, saved_where));
    return out;
}

}  // namespace normgrad::train
