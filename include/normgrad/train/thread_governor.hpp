// Fewer threads while other processes keep this process's cores busy, and all of them again once
// the cores are free: what `--adapt-threads on` does between training steps.
//
// Why: an OpenMP thread that waits for the others spins for a while before it sleeps. On free
// cores that spinning is what makes two threads fast (the mlp's 300 steps 0.31 s spinning
// against 0.40 s with the waiting threads asleep, docs/results/wait-policy-amd-epyc.md); on a
// core another process also wants, the spinning thread takes its turns from the thread doing the
// work, and two threads then lose to one (1.04 s against 0.49 s). So the waiting threads may
// spin, and the run drops to as many threads as there are cores left to it.
#pragma once

#include <chrono>
#include <functional>

namespace normgrad::train {

// The threads the load leaves room for: `requested`, less one for each core the other processes
// keep busy (a core counts once they use more than a quarter of one: ceil(others - 0.25)), and
// never more than the `cores` this process may run on less those, nor fewer than one. An unknown
// load (NaN) leaves `requested`.
int threads_for_load(int requested, int cores, double others_busy_cores);

class ThreadGovernor {
  public:
    using Clock = std::chrono::steady_clock;
    // The other processes' use of this process's cores, in cores, since the previous call
    // (CpuLoad::others_busy_cores); NaN when unknown.
    using LoadProbe = std::function<double()>;

    // Starts at `requested` threads, or `cores` when fewer (more threads than cores would take
    // turns on them, spinning). `probe` is called once `first` has passed, then at most once
    // per `period`: the first look comes early, since a run that starts beside a busy process
    // loses most before it; later ones are spaced for precision (/proc/stat counts in ticks of
    // 10 ms: 0.1 s on two cores is 20 of them).
    ThreadGovernor(int requested, int cores, LoadProbe probe,
                   Clock::duration period = std::chrono::milliseconds(250),
                   Clock::duration first = std::chrono::milliseconds(100));
    // This process's own load, from /proc/stat (cpu_load.hpp).
    static ThreadGovernor for_this_process(int requested);

    // Between two steps: the threads for the next one. Once `first` (later `period`) has passed
    // since the last sample, the load is sampled: fewer threads than now take effect at once
    // (spinning beside a busy process costs the most); more only when two samples in a row allow
    // them (a short lull does not bring the spinning back), and then as many as the smaller of the
    // two allows.
    int between_steps(Clock::time_point now = Clock::now());
    int threads() const { return threads_; }
    int requested() const { return requested_; }

  private:
    int requested_, cores_;
    LoadProbe probe_;
    Clock::duration period_, wait_;  // wait_: until the next sample (first, then period)
    Clock::time_point last_sample_;
    int threads_ = 1;
    int rise_allowed_ = 0;  // what the previous sample allowed when more than threads_, else 0
};

}  // namespace normgrad::train
