// Helpers for tests that run the normgrad program on a tiny generated MNIST-format data set.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "normgrad/random.hpp"

namespace normgrad::testing {

namespace fs = std::filesystem;

struct Run {
    int status;
    std::string output;
};

inline Run run(const std::string& args) {
    const std::string cmd = std::string(NORMGRAD_BINARY_DIR) + "/normgrad " + args + " 2>&1";
    Run r{-1, ""};
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

inline void write_be32(std::ofstream& f, uint32_t v) {
    const unsigned char b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
    f.write(reinterpret_cast<const char*>(b), 4);
}

// n images of 28x28 whose brightest quadrant encodes the label (learnable), plus labels.
inline void write_split(const fs::path& dir, const std::string& prefix, int n, uint64_t seed) {
    normgrad::Rng rng(seed);
    std::ofstream img(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary);
    std::ofstream lab(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary);
    write_be32(img, 0x803);
    write_be32(img, uint32_t(n));
    write_be32(img, 28);
    write_be32(img, 28);
    write_be32(lab, 0x801);
    write_be32(lab, uint32_t(n));
    for (int i = 0; i < n; ++i) {
        const int label = int(rng.below(4));
        for (int r = 0; r < 28; ++r)
            for (int c = 0; c < 28; ++c) {
                const bool lit = (r / 14) * 2 + (c / 14) == label;
                img.put(char(lit ? 150 + rng.below(100) : rng.below(40)));
            }
        lab.put(char(label));
    }
}

struct TinyData {
    fs::path dir;
    TinyData() {
        dir = fs::temp_directory_path() / ("normgrad-cli-test-" + std::to_string(::getpid()));
        fs::create_directories(dir);
        write_split(dir, "train", 256, 1);
        write_split(dir, "t10k", 64, 2);
    }
    ~TinyData() { fs::remove_all(dir); }
    std::string data() const { return " --data " + dir.string(); }
    std::string file(const std::string& name) const { return (dir / name).string(); }
};

inline std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

// The log without its wall-clock times, the one field that may differ between identical runs.
inline std::string without_times(std::string log) {
    for (size_t p; (p = log.find(",\"train_seconds\":")) != std::string::npos;)
        log.erase(p, log.find('}', p) - p);
    return log;
}

}  // namespace normgrad::testing
