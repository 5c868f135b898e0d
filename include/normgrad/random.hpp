// Seeded random numbers that are identical on every platform.
//
// std::mt19937_64 is specified bit-for-bit by the C++ standard, but std::normal_distribution and
// friends are not (each standard library may use another algorithm). So the engine is the
// standard one and the conversions to uniform and normal values are written out here.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace normgrad {

class Rng {
  public:
    explicit Rng(uint64_t seed = 0) : engine_(seed) {}

    uint64_t next_u64() { return engine_(); }
    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    // Standard normal by the Box-Muller transform.
    double normal();
    // Uniform integer in [0, n), without modulo bias.
    uint64_t below(uint64_t n);

    // The full engine state as text, for checkpoints.
    std::string state() const;
    void set_state(const std::string& state);

  private:
    std::mt19937_64 engine_;
    bool has_spare_ = false;
    double spare_ = 0.0;
};

// The process-wide random stream of training-time randomness (Dropout's masks; src/random.cpp).
// One stream for the whole process, so that a run is reproduced by one seed and resumed by one
// saved state: the trainer seeds it when a run starts and saves training_rng().state() in its
// checkpoints, restoring it on resume. Until seeded it is Rng(0). Not thread-safe: it is drawn
// from by the thread that runs the forward pass. Evaluation draws nothing from it.
Rng& training_rng();
// training_rng() = Rng(seed): the same seed gives the same stream of masks again.
void seed_training_rng(uint64_t seed);

}  // namespace normgrad
