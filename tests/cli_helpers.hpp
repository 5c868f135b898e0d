// Helpers for tests that run the normgrad program on a tiny generated MNIST-format data set
// (never a claim about MNIST): running it, running it in the background and signalling it, and
// writing data sets of any size.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "normgrad/random.hpp"

namespace normgrad::testing {

namespace fs = std::filesystem;

struct Run {
    int status;          // exit status, or 128 + the signal that killed it
    std::string output;  // standard output and standard error, interleaved
};

inline int decode_status(int st) {
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

// Runs a shell command line in the current folder, both output streams captured together.
inline Run run_in_shell(const std::string& command) {
    const std::string cmd = command + " 2>&1";
    Run r{-1, ""};
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
    r.status = decode_status(pclose(p));
    return r;
}

// Runs `normgrad <args>` in the current folder through the shell (so args may hold
// redirections), both output streams captured together.
inline Run run(const std::string& args) {
    return run_in_shell(std::string(NORMGRAD_BINARY_DIR) + "/normgrad " + args);
}

// `normgrad <args>` started in the background (its own process, so signals reach it alone),
// output read through a pipe as it comes.
class Child {
  public:
    explicit Child(const std::string& args) {
        int fds[2];
        REQUIRE(pipe(fds) == 0);
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            dup2(fds[1], 1);
            dup2(fds[1], 2);
            close(fds[0]);
            close(fds[1]);
            const std::string cmd =
                "exec " + std::string(NORMGRAD_BINARY_DIR) + "/normgrad " + args;
            execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        close(fds[1]);
        fd_ = fds[0];
    }
    ~Child() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (fd_ >= 0) close(fd_);
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }
    // Reads output until `text` has appeared; false at the end of the output or after `timeout`.
    bool wait_for(const std::string& text, double timeout_seconds = 120) {
        const auto until =
            std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
        while (output_.find(text) == std::string::npos) {
            if (std::chrono::steady_clock::now() > until) return false;
            char buf[4096];
            const ssize_t n = read(fd_, buf, sizeof buf);
            if (n <= 0) return false;
            output_.append(buf, size_t(n));
        }
        return true;
    }
    void signal(int sig) const { kill(pid_, sig); }
    // Reads the rest of the output and waits for the end.
    Run finish() {
        char buf[4096];
        for (ssize_t n; (n = read(fd_, buf, sizeof buf)) > 0;) output_.append(buf, size_t(n));
        int st = 0;
        waitpid(pid_, &st, 0);
        pid_ = -1;
        return {decode_status(st), output_};
    }
    const std::string& output() const { return output_; }

  private:
    pid_t pid_ = -1;
    int fd_ = -1;
    std::string output_;
};

inline void write_be32(std::string& out, uint32_t v) {
    for (int shift : {24, 16, 8, 0}) out.push_back(char(uint8_t(v >> shift)));
}

// An IDX pair of n images of rows x cols whose brightest quadrant encodes the label (a task a
// model learns in a few steps), plus its labels; gzip-compressed when `gzip` (file names get
// ".gz").
inline void write_split(const fs::path& dir, const std::string& prefix, int n, uint64_t seed,
                        int rows = 28, int cols = 28, bool gzip = false) {
    normgrad::Rng rng(seed);
    std::string img, lab;
    write_be32(img, 0x803);
    write_be32(img, uint32_t(n));
    write_be32(img, uint32_t(rows));
    write_be32(img, uint32_t(cols));
    write_be32(lab, 0x801);
    write_be32(lab, uint32_t(n));
    img.reserve(img.size() + size_t(n) * size_t(rows * cols));
    for (int i = 0; i < n; ++i) {
        const int label = int(rng.below(4));
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < cols; ++c) {
                const bool lit = (r * 2 / rows) * 2 + (c * 2 / cols) == label;
                img.push_back(char(lit ? 150 + rng.below(100) : rng.below(40)));
            }
        lab.push_back(char(label));
    }
    auto save = [&](const std::string& name, const std::string& bytes) {
        if (!gzip) {
            std::ofstream(dir / name, std::ios::binary) << bytes;
            return;
        }
        gzFile f = gzopen((dir / (name + ".gz")).c_str(), "wb1");
        REQUIRE(f != nullptr);
        REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
        gzclose(f);
    };
    save(prefix + "-images-idx3-ubyte", img);
    save(prefix + "-labels-idx1-ubyte", lab);
}

// A fresh folder holding a tiny data set (256 training and 64 test images of 28x28). The test
// runs inside it (the constructor makes it the current folder), so that outputs the program
// writes by default, such as checkpoint.safetensors, stay there and parallel tests never share
// them.
struct TinyData {
    fs::path dir, previous;
    explicit TinyData(int train_count = 256) {
        dir = fs::temp_directory_path() / ("normgrad-cli-test-" + std::to_string(::getpid()));
        fs::remove_all(dir);
        fs::create_directories(dir);
        write_split(dir, "train", train_count, 1);
        write_split(dir, "t10k", 64, 2);
        previous = fs::current_path();
        fs::current_path(dir);
    }
    ~TinyData() {
        std::error_code ec;
        fs::current_path(previous, ec);
        fs::remove_all(dir, ec);
    }
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
