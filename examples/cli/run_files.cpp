#include "run_files.hpp"

#include <fmt/format.h>

#include <filesystem>

#include "usage_error.hpp"

namespace normgrad::cli {

namespace fs = std::filesystem;

void RunFiles::input(const std::string& flag, const std::string& path) {
    if (!path.empty()) entries_.push_back({flag, path, "", false, false, {}});
}

void RunFiles::data_folder(const std::string& flag, const std::string& dir) {
    std::error_code ec;
    for (const char* split : {"train", "t10k"})
        for (const char* kind : {"images-idx3", "labels-idx1"})
            for (const char* ext : {"", ".gz"}) {
                const fs::path p = fs::path(dir) / fmt::format("{}-{}-ubyte{}", split, kind, ext);
                if (fs::exists(p, ec)) entries_.push_back({flag, p.string(), "", false, false, {}});
            }
}

void RunFiles::output(const std::string& flag, const std::string& path, const std::string& note) {
    if (!path.empty()) entries_.push_back({flag, path, note, true, false, {}});
}

void RunFiles::output_folder(const std::string& flag, const std::string& dir) {
    if (!dir.empty()) entries_.push_back({flag, dir, "", true, true, {}});
}

void RunFiles::allow_same(const std::string& output_flag, const std::string& input_flag) {
    allowed_.emplace_back(output_flag, input_flag);
}

bool RunFiles::allowed(const Entry& out, const Entry& in) const {
    for (const auto& [o, i] : allowed_)
        if (o == out.flag && i == in.flag) return true;
    return false;
}

void RunFiles::check_and_lock() {
    // Resolve everything; an output must be something that may be replaced.
    for (Entry& e : entries_) {
        try {
            if (e.output && !e.folder) {
                e.resolved = check_writable_output(e.path, e.flag);
            } else {
                e.resolved = resolve_path(e.path);
                if (e.folder && e.resolved.exists && e.resolved.kind != "directory")
                    throw FileError(fmt::format("{} {}: is a {} (expected a folder)", e.flag,
                                                e.path, e.resolved.kind));
            }
        } catch (const FileError& err) {
            const std::string what = err.what();
            throw UsageError(what.rfind(e.flag, 0) == 0 ? what
                                                        : fmt::format("{} {}", e.flag, what));
        }
    }
    auto show = [](const Entry& e) {
        return e.note.empty() ? e.flag : fmt::format("{} ({})", e.flag, e.note);
    };
    for (size_t i = 0; i < entries_.size(); ++i)
        for (size_t j = i + 1; j < entries_.size(); ++j) {
            const Entry& a = entries_[i];
            const Entry& b = entries_[j];
            if (!a.output && !b.output) continue;
            if (!same_file(a.resolved, b.resolved)) continue;
            const Entry& out = a.output ? a : b;
            const Entry& other = a.output ? b : a;
            if (!other.output && allowed(out, other)) continue;
            if (other.output)
                throw UsageError(fmt::format(
                    "{} and {} name the same file, {}: each output needs a file of its own (one "
                    "would replace the other)",
                    show(a), show(b), out.resolved.resolved));
            throw UsageError(fmt::format(
                "{} {} is an input of this run ({} {}): normgrad never writes over its inputs; "
                "choose another file",
                show(out), out.path, other.flag, other.path));
        }
    // Folders of outputs are created now, all checks passed; then every output is claimed.
    for (Entry& e : entries_) {
        if (!e.folder || e.resolved.exists) continue;
        std::error_code ec;
        fs::create_directories(e.path, ec);
        if (ec)
            throw UsageError(
                fmt::format("{} {}: cannot create the folder: {}", e.flag, e.path, ec.message()));
        e.resolved = resolve_path(e.path);
    }
    for (const Entry& e : entries_) {
        if (!e.output) continue;
        try {
            locks_.push_back(std::make_unique<OutputLock>(e.resolved, show(e)));
        } catch (const FileError& err) {
            throw UsageError(err.what());
        }
    }
}

}  // namespace normgrad::cli
