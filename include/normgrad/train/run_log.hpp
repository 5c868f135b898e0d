// The training log (`normgrad train --log FILE`): one JSON object per line.
//
//   {"type":"run","settings":{...}}   first: the run's settings (run_settings.hpp)
//   {"type":"step",...}               one per training step, the diverged one included
//   {"type":"eval",...}               test loss and accuracy every --eval-every steps
//   {"type":"inspect",...}            the BatchNorm layers at each --inspect-at step
//   {"type":"epoch",...}              one per epoch
//   {"type":"end","status":...}       last: how the run ended (completed, diverged, anomaly,
//                                     interrupted, error) and, for all but completed, why
//
// The log is written through an AtomicFile: it appears under its name (or replaces an older
// file) when the run ends, however it ends; until then its lines go to the temporary, which is
// flushed at every checkpoint. A run stopped before its first step writes no log at all.
//
// A resumed run continues its log: the earlier log's lines up to the checkpoint's position are
// copied first, so that the finished log holds every step once, as if the run had never stopped.
// They come from FILE itself (after an interruption, the run ended with an "interrupted"
// record), or, when the earlier run was killed before it could finish its log, from the
// temporary it left; either must begin with this run's settings.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "normgrad/files.hpp"
#include "normgrad/train/run_records.hpp"
#include "normgrad/train/run_settings.hpp"

namespace normgrad::train {

struct Inspection;  // inspect.hpp

// Where a resumed run continues: keep step lines up to `step`, epoch lines before `epoch`.
struct LogPosition {
    int64_t step = 0;
    int epoch = 1;
};

class RunLog {
  public:
    RunLog() = default;  // no log: every call does nothing
    // Opens the log and writes the "run" line, or continues the earlier log when `continue_at`
    // is given. An earlier log of another run is an error (std::invalid_argument) naming the
    // differing settings; nothing is created then.
    RunLog(const std::string& path, const RunSettings& settings, const LogPosition* continue_at);

    bool enabled() const { return file_ != nullptr; }
    void step(const StepInfo& s);
    void epoch(const EpochInfo& e);
    void eval(const EvalInfo& e);
    void inspect(int64_t step, const Inspection& ins);  // --inspect-at
    void flush();  // the lines so far, to the temporary (before a checkpoint)

    // The "end" record, then the log goes in place. A run that failed must not have its failure
    // hidden by a log that cannot be written: those three never throw (the log is lost then).
    void completed(int64_t step);
    void interrupted(int64_t step, const std::string& signal, const std::string& checkpoint);
    void diverged(int64_t step, const std::string& value, const std::string& message) noexcept;
    void failed(std::string_view status, int64_t step, const std::string& message) noexcept;

    // A line of the caller's own (tests).
    void line(std::string_view json);

    // When continuing: how many step lines the earlier log gave, and where they came from.
    int64_t continued_steps() const { return continued_steps_; }
    const std::string& continued_from() const { return continued_from_; }

  private:
    void finish(std::string_view end_json);
    std::unique_ptr<AtomicFile> file_;
    int64_t continued_steps_ = 0;
    std::string continued_from_;
};

}  // namespace normgrad::train
