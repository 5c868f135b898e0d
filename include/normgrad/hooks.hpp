// Hooks: the one way to observe a run from outside the maths.
//
// The gradient statistics, the anomaly detector and a user's own checks all watch the engine
// through hook lists: after each operation's forward (autograd::add_forward_hook), before and
// after each operation's backward (autograd::add_output_grad_hook, add_backward_hook) and after
// each module's forward (add_module_hook, module.hpp). No operation, kernel or optimizer knows
// that anyone watches.
//
// Adding a hook returns a HookHandle; the hook runs until the handle is destroyed or reset, so a
// watcher's lifetime is a C++ scope (as PyTorch's RemovableHandle, or Flashlight's grad hooks).
// Hooks run in the order they were added, all of them (they are chained: adding one never
// replaces another). A list belongs to the thread that runs the model.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace normgrad {

// Removes its hook when destroyed. Movable, not copyable.
class HookHandle {
  public:
    HookHandle() = default;
    explicit HookHandle(std::function<void()> remove) : remove_(std::move(remove)) {}
    HookHandle(HookHandle&& other) noexcept : remove_(std::exchange(other.remove_, {})) {}
    HookHandle& operator=(HookHandle&& other) noexcept {
        if (this != &other) {
            reset();
            remove_ = std::exchange(other.remove_, {});
        }
        return *this;
    }
    HookHandle(const HookHandle&) = delete;
    HookHandle& operator=(const HookHandle&) = delete;
    ~HookHandle() { reset(); }
    // Removes the hook now.
    void reset() {
        if (remove_) std::exchange(remove_, {})();
    }

  private:
    std::function<void()> remove_;
};

// A list of hooks of one kind, called with the same arguments in the order they were added.
template <class... Args>
class HookList {
  public:
    using Hook = std::function<void(Args...)>;

    [[nodiscard]] HookHandle add(Hook hook) {
        const uint64_t id = next_id_++;
        hooks_.emplace_back(id, std::move(hook));
        return HookHandle([this, id] {
            for (size_t i = 0; i < hooks_.size(); ++i)
                if (hooks_[i].first == id) {
                    hooks_.erase(hooks_.begin() + static_cast<std::ptrdiff_t>(i));
                    return;
                }
        });
    }
    bool empty() const { return hooks_.empty(); }
    // Calls every hook, in order. (A hook must not add or remove hooks of the list it is in
    // while it runs.)
    void operator()(Args... args) const {
        for (size_t i = 0; i < hooks_.size(); ++i) hooks_[i].second(args...);
    }

  private:
    std::vector<std::pair<uint64_t, Hook>> hooks_;
    uint64_t next_id_ = 1;
};

}  // namespace normgrad
