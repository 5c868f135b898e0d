#include "normgrad/random.hpp"

#include <cmath>
#include <numbers>
#include <sstream>
#include <stdexcept>

namespace normgrad {

double Rng::normal() {
    if (has_spare_) {
        has_spare_ = false;
        return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();  // log(0) is -inf
    double u2 = uniform();
    double r = std::sqrt(-2.0 * std::log(u1));
    double theta = 2.0 * std::numbers::pi * u2;
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
}

uint64_t Rng::below(uint64_t n) {
    if (n == 0) throw std::invalid_argument("Rng::below: n must be positive");
    // Rejection sampling: discard the top partial copy of [0, n) so every value is equally likely.
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = engine_();
    while (x >= limit);
    return x % n;
}

std::string Rng::state() const {
    std::ostringstream out;
    out << engine_ << ' ' << has_spare_ << ' ' << std::hexfloat << spare_;
    return out.str();
}

void Rng::set_state(const std::string& state) {
    std::istringstream in(state);
    std::mt19937_64 engine;
    bool has_spare = false;
    std::string spare_text;
    in >> engine >> has_spare >> spare_text;
    if (!in) throw std::invalid_argument("Rng::set_state: malformed random-number-generator state");
    engine_ = engine;
    has_spare_ = has_spare;
    spare_ = std::strtod(spare_text.c_str(), nullptr);
}

Rng& training_rng() {
    static Rng rng(0);  // a function-local static: ready before its first use, whenever that is
    return rng;
}

void seed_training_rng(uint64_t seed) {
    training_rng() = Rng(seed);
}

}  // namespace normgrad
