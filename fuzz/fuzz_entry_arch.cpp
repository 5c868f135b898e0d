// Fuzz entry for --arch specs: the parser (train/arch.cpp) and the shape-following walk that
// plans the model (train/models.cpp), without building it. Either may refuse a spec, with an
// ArchError (or, for sizes beyond what the walk takes, std::invalid_argument) whose message
// names the position; nothing else may escape.
#include <fmt/format.h>

#include <string>

#include "fuzz_entry.hpp"
#include "normgrad/train/arch.hpp"
#include "normgrad/train/models.hpp"

namespace normgrad::fuzz {

Outcome fuzz_arch(std::span<const uint8_t> input) {
    const std::string text(input.begin(), input.end());
    try {
        (void)train::parse_arch(text);
    } catch (const train::ArchError& e) {
        if (std::string(e.what()).find(" at character ") == std::string::npos)
            throw FuzzInvariantError(fmt::format("fuzz_arch: no position in '{}'", e.what()));
        return Outcome::rejected;
    }
    train::ModelSpec spec;
    spec.kind = "arch";
    spec.arch = text;
    const std::string problem = train::image_size_problem(spec, 28, 28);
    if (!problem.empty()) {
        if (problem.find(" at character ") == std::string::npos)
            throw FuzzInvariantError(fmt::format("fuzz_arch: no position in '{}'", problem));
        return Outcome::rejected;
    }
    // A spec that fits has a size (the memory check before training relies on it).
    const train::MemoryEstimate m = train::estimate_training_memory(spec, 128, "sgd", 0.9f);
    if (m.parameters == 0 || m.total() == 0)
        throw FuzzInvariantError(fmt::format("fuzz_arch: '{}' fits but has no size", text));
    return Outcome::accepted;
}

}  // namespace normgrad::fuzz
