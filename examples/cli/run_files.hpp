// The files a command reads and writes, checked together before any work starts.
//
// Every output path (--save, --log, --checkpoint, compare's --out folder) and every input path
// (the data files, --resume, --init-from, --load) is registered here; check_and_lock() then
//  - resolves each one (symbolic links followed: a link's target is what is read or replaced),
//  - refuses, naming both flags, two outputs that are the same file and an output that is an
//    input (hard links count: they are the same file),
//  - refuses an output that is a directory, FIFO, device or socket, or whose folder does not
//    exist or is not writable,
//  - and claims every output for this run (OutputLock), so that a second run given the same
//    output stops at once with "in use by another normgrad run (pid N)" instead of writing over
//    this one's files, or failing after training with nothing saved.
// Any refusal is a UsageError (exit status 2): nothing has been read, trained or written.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "normgrad/files.hpp"

namespace normgrad::cli {

class RunFiles {
  public:
    void input(const std::string& flag, const std::string& path);
    // The data files of an MNIST-format folder, those that exist.
    void data_folder(const std::string& flag, const std::string& dir);
    // `note` explains an output the user did not name ("the default, written on Ctrl-C").
    void output(const std::string& flag, const std::string& path, const std::string& note = "");
    // A folder of outputs (created if missing, with its parents).
    void output_folder(const std::string& flag, const std::string& dir);
    // This output may be the same file as that input (--checkpoint over the --resume file).
    void allow_same(const std::string& output_flag, const std::string& input_flag);

    void check_and_lock();

  private:
    struct Entry {
        std::string flag, path, note;
        bool output = false, folder = false;
        ResolvedPath resolved;
    };
    bool allowed(const Entry& out, const Entry& in) const;
    std::vector<Entry> entries_;
    std::vector<std::pair<std::string, std::string>> allowed_;
    std::vector<std::unique_ptr<OutputLock>> locks_;
};

}  // namespace normgrad::cli
