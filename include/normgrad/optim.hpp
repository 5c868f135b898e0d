// Optimizers, learning-rate schedules and gradient clipping.
//
// An optimizer holds the model's parameters (handles: it updates the very tensors the model uses)
// and, per parameter, whatever state its update rule needs (momentum buffer, Adam's moment
// estimates). Each training step is:
//
//     optimizer.zero_grad();        // forget last step's gradients
//     backward(loss);               // fill p.grad for every parameter that took part
//     clip_grad_norm(optimizer.params(), 1.0);   // optional
//     optimizer.set_lr(schedule.lr_at(step));    // optional
//     optimizer.step();             // p <- update(p, p.grad, state)
//
// The update rules are exactly PyTorch's (torch.optim.SGD, Adam, AdamW, checked against reference
// trajectories in tests/fixtures/optim.txt). A parameter whose gradient is null (it did not take
// part in this step) is skipped: neither it nor its state changes, as in PyTorch.
// State buffers are allocated the first time a parameter is updated; after that, step() allocates
// nothing.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "normgrad/hooks.hpp"
#include "normgrad/named_tensor.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/tensor.hpp"

namespace normgrad {

class Optimizer {
  public:
    // Throws std::invalid_argument for an empty list, an undefined tensor or a repeated name
    // (state is saved by parameter name, so names must be unique).
    explicit Optimizer(std::vector<Parameter> params);
    virtual ~Optimizer();
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    // One update of every parameter that has a gradient. Runs under NoGradGuard.
    virtual void step() = 0;
    // Forgets every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
    void zero_grad();

    float lr() const { return lr_; }
    void set_lr(float lr);  // throws std::invalid_argument when lr < 0 or not a number
    const std::vector<Parameter>& params() const { return params_; }
    // How many times step() has run (saved in state() as "step").
    int64_t step_count() const { return step_count_; }

    // Optimizer state for checkpoints: copies (not views) of the per-parameter buffers, named
    // "<parameter>.<buffer>" ("fc1.weight.momentum_buffer", "fc1.weight.exp_avg", ...), plus the
    // rank-0 tensor "step" = step_count(). Counters are stored as float32, exact up to 2^24.
    // A parameter that has not been updated yet has no entries.
    virtual std::vector<NamedTensor> state() const = 0;
    // Replaces the whole state with `state` (as returned by state() of the same kind of optimizer
    // over parameters with the same names and shapes); parameters with no entries start afresh.
    // Throws std::runtime_error naming the tensor (unknown or incomplete entry, wrong shape with
    // the expected and found shapes, bad counter); on error the optimizer is left unchanged.
    virtual void load_state(const std::vector<NamedTensor>& state) = 0;

    // Update hooks (hooks.hpp): observers of what step() does to the values, called for each
    // parameter k block by block (at most kUpdateBlock values, while the block is in cache) with
    // the block's values before and after the update, `first` being the block's offset in the
    // parameter. Chained, removed when their handle goes; with none, step() updates in one pass.
    // (A watcher that measures updates this way needs no copy of the weights.)
    using UpdateHook = std::function<void(size_t k, int64_t first, const float* before,
                                          const float* after, int64_t n)>;
    [[nodiscard]] HookHandle add_update_hook(UpdateHook hook) {
        return update_hooks_.add(std::move(hook));
    }
    // 4 KB of floats: the block, its old copy, its gradient and an optimizer state or two stay
    // in L1 cache (32 KB here) from the copy through the rule to the hooks' sums. At 4096 floats
    // they did not, and the statistics of bench/grad_stats_cost cost the mlp about 6% of a step
    // against about 3.5% at 1024 (512 was no better).
    static constexpr int64_t kUpdateBlock = 1024;
    virtual std::string kind() const = 0;  // "SGD", "Adam", "AdamW"

  protected:
    // Every update rule changes parameter k's values p[0..n) through this: `rule(first, last)`
    // updates p[first..last) (and the optimizer's own state for those elements), elementwise.
    // Without update hooks it is called for [0, n), on one range per thread for a big parameter
    // (parallel_ranges: the same result however split; at two threads the mlp's 200 K weights of
    // fc1 were otherwise updated by one thread while the other waited); with hooks, block by
    // block on the calling thread, the old block kept aside. (Capture by value in `rule`: with
    // scalars captured by reference the compiler must assume the stores to p may change them,
    // and cannot vectorise the loop.)
    template <class Rule>
    void update(size_t k, float* p, int64_t n, Rule rule) {
        if (update_hooks_.empty()) {
            parallel_ranges(n, 1, [&rule](int64_t first, int64_t last) { rule(first, last); });
            return;
        }
        float before[kUpdateBlock];
        for (int64_t first = 0; first < n; first += kUpdateBlock) {
            const int64_t count = std::min(kUpdateBlock, n - first);
            std::copy(p + first, p + first + count, before);
            rule(first, first + count);
            update_hooks_(k, first, before, p + first, count);
        }
    }

    // Weight decay to use for `p`: 0 for biases and norm parameters when they are excluded.
    static float decay_for(const Parameter& p, float weight_decay, bool exclude_bias_and_norm) {
        return exclude_bias_and_norm && p.is_bias_or_norm ? 0.f : weight_decay;
    }

    // Helpers for load_state. Index of parameter `name` in params_ (or -1).
    int64_t param_index(const std::string& name) const;
    // Splits "<parameter>.<buffer>" at the parameter name; throws naming the tensor when no
    // parameter matches or the buffer is not in `buffers`. Returns the parameter index.
    int64_t parse_state_name(const std::string& name, const std::vector<std::string>& buffers,
                             std::string* buffer) const;
    // A copy of `t`, after checking that its shape is `expected` (throws naming `name`).
    Tensor checked_copy(const std::string& name, const Tensor& t, const Shape& expected) const;
    // The value of a rank-0 counter tensor; throws unless it is a whole number in [0, 2^24].
    int64_t read_counter(const std::string& name, const Tensor& t) const;
    // Checks that no name appears twice, then finds the "step" entry (throws if missing) and
    // returns its value.
    int64_t read_step_count(const std::vector<NamedTensor>& state) const;

    std::vector<Parameter> params_;
    float lr_ = 0.f;
    int64_t step_count_ = 0;

  private:
    HookList<size_t, int64_t, const float*, const float*, int64_t> update_hooks_;
};

// ---------------------------------------------------------------------------------------------
// SGD with momentum (torch.optim.SGD).

struct SgdOptions {
    float lr = 0.01f;
    float momentum = 0.f;   // in [0, 1); 0 = plain SGD (no buffer)
    float dampening = 0.f;  // in [0, 1]
    bool nesterov = false;  // requires momentum > 0 and dampening == 0
    float weight_decay = 0.f;
    bool exclude_bias_and_norm_from_decay = false;
};

class Sgd : public Optimizer {
  public:
    // Throws std::invalid_argument naming the option and its value when an option is invalid.
    Sgd(std::vector<Parameter> params, const SgdOptions& options = {});

    void step() override;
    // "<parameter>.momentum_buffer" (only when momentum > 0) and "step".
    std::vector<NamedTensor> state() const override;
    void load_state(const std::vector<NamedTensor>& state) override;
    std::string kind() const override { return "SGD"; }
    // The options given at construction (the current learning rate is lr()).
    const SgdOptions& options() const { return options_; }

  private:
    SgdOptions options_;
    std::vector<Tensor> momentum_buffer_;  // one per parameter; undefined until first update
};

// ---------------------------------------------------------------------------------------------
// Adam (torch.optim.Adam) and AdamW (torch.optim.AdamW: decoupled_weight_decay = true).

struct AdamOptions {
    float lr = 1e-3f;
    float beta1 = 0.9f;    // in [0, 1)
    float beta2 = 0.999f;  // in [0, 1)
    float eps = 1e-8f;
    float weight_decay = 0.f;
    bool decoupled_weight_decay = false;  // false: Adam (L2 added to grad); true: AdamW
    bool exclude_bias_and_norm_from_decay = false;
};

class Adam : public Optimizer {
  public:
    // Throws std::invalid_argument naming the option and its value when an option is invalid.
    Adam(std::vector<Parameter> params, const AdamOptions& options = {});

    void step() override;
    // "<parameter>.exp_avg", "<parameter>.exp_avg_sq", "<parameter>.step" (this parameter's own
    // update count, as in PyTorch: it lags "step" when the parameter sometimes had no gradient).
    std::vector<NamedTensor> state() const override;
    void load_state(const std::vector<NamedTensor>& state) override;
    std::string kind() const override { return options_.decoupled_weight_decay ? "AdamW" : "Adam"; }
    const AdamOptions& options() const { return options_; }

  private:
    struct Slot {
        Tensor exp_avg;     // m: running mean of the gradient
        Tensor exp_avg_sq;  // v: running mean of the squared gradient
        int64_t step = 0;   // updates of this parameter so far (for the bias correction)
    };
    AdamOptions options_;
    std::vector<Slot> slots_;  // one per parameter; buffers undefined until first update
};

// ---------------------------------------------------------------------------------------------
// Learning-rate schedules: the learning rate as a pure function of the step (0-based).
//
//   warm-up (step < warmup_steps):  lr = base_lr * (step + 1) / warmup_steps
//   then, with s = step - warmup_steps:
//     Constant:  lr = base_lr
//     Step:      lr = base_lr * gamma^floor(s / step_size)                (torch StepLR)
//     Cosine:    lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * s / total_steps)) / 2
//                (torch CosineAnnealingLR's closed form, T_max = total_steps); for
//                s >= total_steps it stays at min_lr (torch's would rise again).
// So the cosine phase lasts total_steps steps after the warm-up.
struct LrSchedule {
    enum class Kind { Constant, Step, Cosine } kind = Kind::Constant;
    float base_lr = 0.01f;
    int64_t warmup_steps = 0;
    int64_t step_size = 0;  // Step: multiply by gamma every step_size steps (> 0)
    float gamma = 0.1f;
    int64_t total_steps = 0;  // Cosine: length of the cosine phase (> 0)
    float min_lr = 0.f;

    // Throws std::invalid_argument for step < 0 or an invalid schedule (see validate()).
    float lr_at(int64_t step) const;
    // Throws std::invalid_argument naming the field: base_lr/min_lr < 0, warmup_steps < 0,
    // Step with step_size <= 0 or gamma < 0, Cosine with total_steps <= 0.
    void validate() const;
    // "cosine(base_lr=0.1, min_lr=0, total_steps=1000, warmup_steps=100)", for logs.
    std::string describe() const;
};

// ---------------------------------------------------------------------------------------------
// Gradient clipping (torch.nn.utils.clip_grad_norm_ with norm_type 2).

// sqrt(sum of g^2 over all gradients) (per parameter by sum_of_squares of norms.hpp, added in
// double); parameters without a gradient are skipped.
double global_grad_norm(const std::vector<Parameter>& params);
// Returns global_grad_norm() before clipping. When coef = max_norm / (norm + 1e-6) is below 1,
// multiplies every gradient by coef, so that the norm becomes (just under) max_norm.
// Throws std::invalid_argument when max_norm < 0 or not a number.
double clip_grad_norm(const std::vector<Parameter>& params, double max_norm);

}  // namespace normgrad
