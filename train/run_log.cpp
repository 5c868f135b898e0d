#include "normgrad/train/run_log.hpp"

#include "normgrad/train/inspect.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "normgrad/train/json_text.hpp"

namespace normgrad::train {

namespace {

namespace fs = std::filesystem;

std::string run_line(const RunSettings& settings) {
    return fmt::format(R"({{"type":"run","settings":{}}})", to_json(settings));
}

// The lines of an earlier log of the same run that come before `at`; nullopt when the file is
// not such a log. A last line without its newline (a writer killed mid-line) is left out.
struct Earlier {
    std::vector<std::string> lines;
    int64_t steps = 0;
    bool other_run = false;
    std::vector<std::string> differences;
};

Earlier read_earlier(const std::string& path, const RunSettings& settings, const LogPosition& at,
                     const std::string& where) {
    Earlier e;
    std::ifstream in(path, std::ios::binary);
    std::string content{std::istreambuf_iterator<char>(in), {}};
    if (const size_t end = content.rfind('\n'); end != std::string::npos)
        content.resize(end + 1);
    else
        content.clear();
    size_t pos = 0;
    bool first = true;
    while (pos < content.size()) {
        const size_t nl = content.find('\n', pos);
        const std::string line = content.substr(pos, nl - pos);
        pos = nl + 1;
        nlohmann::ordered_json j;
        try {
            j = nlohmann::ordered_json::parse(line);
        } catch (const nlohmann::json::exception&) {
            break;  // damaged from here on: keep what came before
        }
        const std::string type = j.is_object() ? j.value("type", "") : "";
        if (first) {
            first = false;
            const RunSettings saved = type == "run" && j.contains("settings")
                                          ? settings_from_json(j["settings"].dump())
                                          : RunSettings{};
            if (saved != settings) {
                e.other_run = true;
                e.differences = saved.empty()
                                    ? std::vector<std::string>{"it does not begin with a run's "
                                                               "settings"}
                                    : differences(saved, settings, where);
                return e;
            }
            e.lines.push_back(line);
            continue;
        }
        if ((type == "step" || type == "eval") && j.value("step", int64_t{0}) <= at.step) {
            e.lines.push_back(line);
            ++e.steps;
        } else if (type == "epoch" && j.value("epoch", 0) < at.epoch) {
            e.lines.push_back(line);
        }
    }
    if (first) e.other_run = true, e.differences = {"it is empty"};
    return e;
}

}  // namespace

RunLog::RunLog(const std::string& path, const RunSettings& settings,
               const LogPosition* continue_at) {
    if (path.empty()) return;
    Earlier best;
    if (continue_at) {
        // The log itself, then the temporaries of writers that are gone (a kill -9).
        const ResolvedPath r = resolve_path(path);
        std::vector<std::string> sources;
        if (r.exists && r.is_regular) sources.push_back(r.resolved);
        std::error_code ec;
        const fs::path dest(r.resolved);
        const std::string prefix = dest.filename().string() + std::string(kTempSuffix);
        for (fs::directory_iterator it(dest.parent_path(), ec), end; !ec && it != end;
             it.increment(ec))
            if (it->path().filename().string().rfind(prefix, 0) == 0)
                sources.push_back(it->path().string());
        bool found_own = false;
        std::vector<std::string> refusal;
        for (size_t i = 0; i < sources.size(); ++i) {
            Earlier e = read_earlier(sources[i], settings, *continue_at, "the log");
            if (e.other_run) {
                if (i == 0 && r.exists) refusal = e.differences;
                continue;
            }
            if (!found_own || e.steps > best.steps) {
                best = std::move(e);
                continued_from_ = sources[i];
            }
            found_own = true;
        }
        if (!found_own && !refusal.empty()) {
            std::string why;
            for (const auto& d : refusal) why += (why.empty() ? "" : "; ") + d;
            throw std::invalid_argument(fmt::format(
                "--log {}: the file holds the log of another run ({}); continuing the resumed "
                "run there would mix two runs: give another --log, or move that file away",
                path, why));
        }
    }
    file_ = std::make_unique<AtomicFile>(path);
    if (best.lines.empty()) {
        line(run_line(settings));
    } else {
        for (const auto& l : best.lines) line(l);
        continued_steps_ = best.steps;
    }
}

void RunLog::line(std::string_view json) {
    if (!file_) return;
    file_->write(json);
    file_->write("\n");
}

void RunLog::flush() {
    if (file_) file_->flush();
}

void RunLog::step(const StepInfo& s) {
    if (!file_) return;
    line(fmt::format(R"({{"type":"step","epoch":{},"step":{},"loss":{},"lr":{},"grad_norm":{}{}}})",
                     s.epoch, s.step, json_number(s.loss), json_number(s.lr),
                     json_number(s.grad_norm), s.stats ? ",\"layers\":" + s.stats->json() : ""));
}

void RunLog::epoch(const EpochInfo& e) {
    line(fmt::format(
        R"({{"type":"epoch","epoch":{},"steps":{},"train_loss":{},"test_loss":{},"test_accuracy":{},"train_seconds":{}}})",
        e.epoch, e.steps, json_number(e.train_loss), json_number(e.test_loss),
        json_number(e.test_accuracy), json_number(e.train_seconds)));
}

void RunLog::eval(const EvalInfo& e) {
    if (!enabled()) return;
    line(fmt::format(R"({{"type":"eval","epoch":{},"step":{},"test_loss":{},"test_accuracy":{}}})",
                     e.epoch, e.step, json_number(e.test_loss), json_number(e.test_accuracy)));
}

void RunLog::inspect(int64_t step, const Inspection& ins) {
    if (!enabled()) return;
    auto summary = [](const ValueSummary& v) {
        return fmt::format(R"({{"min":{},"mean":{},"max":{}}})", json_number(v.min),
                           json_number(v.mean), json_number(v.max));
    };
    auto mode = [](const ModeView& v) {
        return fmt::format(
            R"({{"input_abs_mean":{},"input_std":{},"output_abs_mean":{},"output_std":{},)"
            R"("output_mean_off_beta":{},"output_std_off_gamma":{}}})",
            json_number(v.input.abs_mean), json_number(v.input.std), json_number(v.output.abs_mean),
            json_number(v.output.std), json_number(v.mean_off_beta), json_number(v.std_off_gamma));
    };
    std::string layers;
    for (const LayerInspection& l : ins.layers) {
        if (!layers.empty()) layers += ",";
        layers += fmt::format(R"({{"name":{},"m":{},)", json_string(l.name), l.values_per_channel);
        if (l.affine)
            layers += fmt::format(R"("gamma":{},"beta":{},)", summary(l.gamma), summary(l.beta));
        layers += fmt::format(R"("training_mode":{},"evaluation_mode":{})", mode(l.train_mode),
                              mode(l.eval_mode));
        if (l.tracked)
            layers += fmt::format(R"(,"running_mean_gap":{},"running_var_rel_diff":{})",
                                  json_number(l.mean_gap), json_number(l.var_rel_diff));
        layers += "}";
    }
    line(fmt::format(R"({{"type":"inspect","step":{},"test_images":{},"layers":[{}]}})", step,
                     ins.batch_images, layers));
}

void RunLog::completed(int64_t step) {
    finish(fmt::format(R"({{"type":"end","status":"completed","step":{}}})", step));
}

void RunLog::interrupted(int64_t step, const std::string& signal, const std::string& checkpoint) {
    finish(fmt::format(
        R"({{"type":"end","status":"interrupted","step":{},"signal":{},"checkpoint":{}}})", step,
        json_string(signal), checkpoint.empty() ? "null" : json_string(checkpoint)));
}

void RunLog::diverged(int64_t step, const std::string& value, const std::string& message) noexcept {
    try {
        finish(
            fmt::format(R"({{"type":"end","status":"diverged","step":{},"value":{},"message":{}}})",
                        step, json_string(value), json_string(message)));
    } catch (const std::exception&) {
    }
}

void RunLog::failed(std::string_view status, int64_t step, const std::string& message) noexcept {
    try {
        finish(fmt::format(R"({{"type":"end","status":"{}","step":{},"message":{}}})", status, step,
                           json_string(message)));
    } catch (const std::exception&) {
    }
}

void RunLog::finish(std::string_view end_json) {
    if (!file_) return;
    line(end_json);
    file_->commit();
    file_.reset();
}

}  // namespace normgrad::train
