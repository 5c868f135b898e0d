// The training log's run and end records, its continuation on resume, the run's settings, and
// the batch plan checked before training.
#include <fmt/format.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "cli_helpers.hpp"
#include "normgrad/layers.hpp"
#include "normgrad/train/batch_plan.hpp"
#include "normgrad/train/run_log.hpp"
#include "normgrad/train/run_settings.hpp"
#include "normgrad/train/trainer.hpp"

using namespace normgrad;
using namespace normgrad::train;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

const RunSettings kSettings{{"--lr", "0.05"}, {"--batch", "32"}};

std::string log_with(const RunSettings& s, int steps, const std::string& end) {
    std::string log = "{\"type\":\"run\",\"settings\":" + to_json(s) + "}\n";
    for (int i = 1; i <= steps; ++i)
        log += fmt::format("{{\"type\":\"step\",\"epoch\":{},\"step\":{}}}\n", (i - 1) / 4 + 1, i);
    for (int e = 1; e <= steps / 4; ++e)
        log += fmt::format("{{\"type\":\"epoch\",\"epoch\":{}}}\n", e);
    return log + end;
}

}  // namespace

TEST_CASE("RunLog: settings first, an end record last, nothing unless finished", "[runlog]") {
    testing::TinyData d;
    {
        RunLog log(d.file("a.jsonl"), kSettings, nullptr);
        log.line(R"({"type":"step","step":1})");
    }  // never finished: a run stopped before its first step leaves nothing
    CHECK(!fs::exists(d.file("a.jsonl")));
    RunLog log(d.file("a.jsonl"), kSettings, nullptr);
    log.line(R"({"type":"step","step":1})");
    log.completed(1);
    CHECK(
        testing::read_file(d.file("a.jsonl")) ==
        "{\"type\":\"run\",\"settings\":{\"--lr\":\"0.05\",\"--batch\":\"32\"}}\n"
        "{\"type\":\"step\",\"step\":1}\n{\"type\":\"end\",\"status\":\"completed\",\"step\":1}\n");
}

TEST_CASE("RunLog: a resumed run continues its log from the checkpoint's position", "[runlog]") {
    testing::TinyData d;
    // The earlier run went on to step 10 after its checkpoint at step 6 (in epoch 2).
    std::ofstream(d.file("a.jsonl")) << log_with(kSettings, 10, "{\"type\":\"end\"}\n");
    const LogPosition at{6, 2};
    RunLog log(d.file("a.jsonl"), kSettings, &at);
    CHECK(log.continued_steps() == 6);
    log.completed(6);
    const std::string kept = testing::read_file(d.file("a.jsonl"));
    CHECK_THAT(kept, Contains(R"("step":6})") && !Contains(R"("step":7})"));
    CHECK_THAT(kept, Contains(R"({"type":"epoch","epoch":1})") &&
                         !Contains(R"({"type":"epoch","epoch":2})"));
    CHECK(std::count(kept.begin(), kept.end(), '\n') == 1 + 6 + 1 + 1);
}

TEST_CASE("RunLog: after a kill -9, the log continues from the dead writer's temporary",
          "[runlog]") {
    testing::TinyData d;
    // No log under its name (the killed run never finished it), only its temporary, whose
    // last line was cut short.
    std::ofstream(d.file("a.jsonl.normgrad-tmp-999999"))
        << log_with(kSettings, 9, "{\"type\":\"st");
    const LogPosition at{8, 3};
    RunLog log(d.file("a.jsonl"), kSettings, &at);
    CHECK(log.continued_steps() == 8);
    log.completed(8);
    CHECK(!fs::exists(d.file("a.jsonl.normgrad-tmp-999999")));  // removed: its writer is gone
    CHECK_THAT(testing::read_file(d.file("a.jsonl")), Contains(R"("step":8})"));
}

TEST_CASE("RunLog: the log of another run is not continued", "[runlog]") {
    testing::TinyData d;
    const RunSettings other{{"--lr", "0.1"}, {"--batch", "32"}};
    std::ofstream(d.file("a.jsonl")) << log_with(other, 4, "");
    const LogPosition at{4, 2};
    CHECK_THROWS_WITH(RunLog(d.file("a.jsonl"), kSettings, &at),
                      Contains("holds the log of another run") &&
                          Contains("--lr is 0.1 in the log and 0.05 now"));
    CHECK_THAT(testing::read_file(d.file("a.jsonl")), Contains("0.1"));  // left as it was
}

TEST_CASE("run settings: every difference named with both values", "[runlog]") {
    const RunSettings a{{"--lr", "0.05"}, {"--batch", "32"}, {"--seed", "0"}};
    const RunSettings b{{"--lr", "0.1"}, {"--batch", "32"}, {"--clip", "1"}};
    const auto d = differences(a, b, "the checkpoint");
    REQUIRE(d.size() == 3);
    CHECK(d[0] == "--lr is 0.05 in the checkpoint and 0.1 now");
    CHECK(d[1] == "--clip is 1 now and not set in the checkpoint");
    CHECK(d[2] == "--seed is 0 in the checkpoint and not set now");
    CHECK(settings_from_json(to_json(a)) == a);
    CHECK(settings_from_json("not json").empty());
}

TEST_CASE("run settings: everything that changes the trajectory is in them", "[runlog]") {
    Dataset data;
    data.count = 2, data.rows = 1, data.cols = 1, data.images = {1, 2}, data.labels = {0, 1};
    TrainConfig c;
    const RunSettings base = run_settings(c, data, 10);
    auto changed = [&](auto&& edit) {
        TrainConfig x = c;
        edit(x);
        return run_settings(x, data, 10) != base;
    };
    CHECK(changed([](TrainConfig& x) { x.lr = 0.1f; }));
    CHECK(changed([](TrainConfig& x) { x.momentum = 0.5f; }));
    CHECK(changed([](TrainConfig& x) { x.nesterov = true; }));
    CHECK(changed([](TrainConfig& x) { x.weight_decay = 1e-4f; }));
    CHECK(changed([](TrainConfig& x) { x.schedule = "cosine"; }));
    CHECK(changed([](TrainConfig& x) { x.warmup_steps = 5; }));
    CHECK(changed([](TrainConfig& x) { x.clip_norm = 1.0; }));
    CHECK(changed([](TrainConfig& x) { x.batch = 64; }));
    CHECK(changed([](TrainConfig& x) { x.seed = 1; }));
    CHECK(changed([](TrainConfig& x) { x.drop_last = true; }));
    CHECK(changed([](TrainConfig& x) { x.optimizer = "adam"; }));
    CHECK(changed([](TrainConfig& x) { x.model.hidden = 64; }));
    CHECK(changed([](TrainConfig& x) { x.model.depth = 3; }));
    CHECK(changed([](TrainConfig& x) { x.model.norm = Norm::batch(); }));
    CHECK(changed([](TrainConfig& x) { x.model.activation = Activation::Tanh; }));
    CHECK(changed([](TrainConfig& x) { x.model.init = Init::normal(0.1f); }));
    CHECK_FALSE(changed([](TrainConfig& x) { x.threads = 2; }));  // rounding only
    CHECK_FALSE(changed([](TrainConfig& x) { x.epochs = 5; }));   // may grow on resume...
    CHECK(run_settings(
              [] {                // ...unless a schedule
                  TrainConfig x;  // spans the run
                  x.schedule = "cosine";
                  return x;
              }(),
              data, 10) !=
          run_settings(
              [] {
                  TrainConfig x;
                  x.schedule = "cosine";
                  return x;
              }(),
              data, 20));
    Dataset other = data;
    other.images[0] = 9;
    CHECK(run_settings(c, other, 10) != base);  // the data's content
}

TEST_CASE("batch plan: found before training, BatchNorm2d trains on one image", "[runlog]") {
    Rng rng(0);
    Dataset data;
    data.count = 9, data.rows = 4, data.cols = 4;
    data.images.assign(9 * 16, 7), data.labels.assign(9, 1);
    Sequential mlp;
    mlp.emplace<Flatten>("flatten");
    mlp.emplace<Dense>("fc1", 16, 8, rng);
    mlp.emplace<BatchNorm1d>("bn1", 8);
    mlp.emplace<Dense>("fc2", 8, 2, rng);
    CHECK_THROWS_AS(plan_batches(mlp, data, 1, false), SetupError);
    CHECK_THROWS_WITH(plan_batches(mlp, data, 1, false),
                      Contains("layer 'bn1' (BatchNorm1d)") && Contains("--batch 2 or more"));
    // 9 images in batches of 4: the last holds 1 and is skipped, with the reason.
    const BatchPlan p = plan_batches(mlp, data, 4, false);
    CHECK(p.skip_last);
    CHECK(p.steps_per_epoch() == 2);
    CHECK_THAT(p.skip_reason, Contains("holds 1 image") && Contains("--drop-last"));
    CHECK(plan_batches(mlp, data, 3, false).steps_per_epoch() == 3);
    CHECK(plan_batches(mlp, data, 2, true).steps_per_epoch() == 4);
    CHECK(plan_batches(mlp, data, 2, false).steps_per_epoch() == 4);  // the 1 left is skipped
    // The probe leaves the running statistics as they were.
    const auto& bn = static_cast<const BatchNorm&>(*mlp.children()[2].second);
    CHECK(bn.running_mean.to_vector() == std::vector<float>(8, 0.f));
    CHECK(bn.num_batches_tracked.item() == 0.f);

    // BatchNorm2d normalises over N, H and W: one image of 4x4 has 16 values per channel.
    Sequential cnn;
    cnn.emplace<Conv2d>("conv1", 1, 2, 3, rng, 1, 1);
    cnn.emplace<BatchNorm2d>("bn1", 2);
    cnn.emplace<Flatten>("flatten");
    cnn.emplace<Dense>("fc1", 32, 2, rng);
    CHECK(training_forward_problem(cnn, 1, 4, 4).empty());
    const BatchPlan one = plan_batches(cnn, data, 1, false);
    CHECK(one.steps_per_epoch() == 9);
    CHECK_FALSE(one.skip_last);
}
