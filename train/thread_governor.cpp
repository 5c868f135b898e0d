#include "normgrad/train/thread_governor.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <utility>

#include "normgrad/cpu_load.hpp"

namespace normgrad::train {

int threads_for_load(int requested, int cores, double others_busy_cores) {
    if (std::isnan(others_busy_cores)) return requested;
    // A quarter of a core of slack: the machine's own background work (well under a tenth of
    // a core on an idle one) must not cost a thread.
    const double taken = std::max(0.0, std::ceil(others_busy_cores - 0.25));
    const double room = double(cores) - taken;
    return int(std::clamp(room, 1.0, double(requested)));
}

ThreadGovernor::ThreadGovernor(int requested, int cores, LoadProbe probe, Clock::duration period,
                               Clock::duration first)
    : requested_(requested),
      cores_(cores),
      probe_(std::move(probe)),
      period_(period),
      wait_(first),
      last_sample_(Clock::now()) {
    if (requested < 1 || cores < 1)
        throw std::invalid_argument("ThreadGovernor: need at least one thread and one core");
    threads_ = threads_for_load(requested, cores, 0.0);  // no more threads than cores
}

ThreadGovernor ThreadGovernor::for_this_process(int requested) {
    auto load = std::make_shared<CpuLoad>();  // its first sample: now
    const int cores = std::max(1, load->cores());
    return ThreadGovernor(requested, cores, [load] { return load->others_busy_cores(); });
}

int ThreadGovernor::between_steps(Clock::time_point now) {
    if (now - last_sample_ < wait_) return threads_;
    last_sample_ = now;
    wait_ = period_;
    const int allowed = threads_for_load(requested_, cores_, probe_());
    if (allowed < threads_) {
        threads_ = allowed;
        rise_allowed_ = 0;
    } else if (allowed > threads_) {
        if (rise_allowed_ > 0) {  // the second sample in a row with room for more
            threads_ = std::min(allowed, rise_allowed_);
            rise_allowed_ = 0;
        } else {
            rise_allowed_ = allowed;
        }
    } else {
        rise_allowed_ = 0;
    }
    return threads_;
}

}  // namespace normgrad::train
