// Writing files without ever leaving a half-done one, and knowing what a path really names.
//
// Every file normgrad writes (models, checkpoints, logs, reports) goes through AtomicFile: the
// bytes go to a temporary next to the destination, "<destination>.normgrad-tmp-<pid>", which is
// synced and renamed over the destination only when complete. A crash or kill -9 leaves the old
// file (or none) under the real name, plus a temporary whose name says whose it was; the next
// write to the same destination removes the temporaries of writers that are gone.
//
// A destination that is a symbolic link is followed: the file the link points to is replaced and
// the link stays. A directory, FIFO, device or socket is never replaced.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace normgrad {

// A file that cannot be resolved, created, written or replaced. The message starts with the path.
class FileError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// What a path names once symbolic links are followed.
struct ResolvedPath {
    std::string given;     // as the user wrote it
    std::string resolved;  // the final file: every symbolic link followed (absolute)
    bool exists = false;   // the final file exists (then dev/ino identify it)
    bool is_regular = false;
    dev_t dev = 0;
    ino_t ino = 0;
    std::string kind;  // "regular file", "directory", "FIFO", ... or "" when it does not exist
};

// Follows symbolic links (a loop or a chain of more than 40 is a FileError). The final file need
// not exist; the folder holding it is resolved as well.
ResolvedPath resolve_path(const std::string& path);

// Same file: the same resolved path, or (when both exist) the same device and inode, which also
// catches hard links.
bool same_file(const ResolvedPath& a, const ResolvedPath& b);

// Checks that `path` can be written as an output before any work is done: it resolves, is a
// regular file or does not exist yet, and its folder exists and is writable. Returns the
// resolution; throws FileError naming `what` (e.g. "--save") otherwise.
ResolvedPath check_writable_output(const std::string& path, const std::string& what);

// The suffix of temporaries: "<destination>.normgrad-tmp-<pid>".
inline constexpr std::string_view kTempSuffix = ".normgrad-tmp-";

// Removes the temporaries of `destination` (resolved) left by processes that no longer run.
// Returns how many were removed.
int remove_stale_temporaries(const std::string& destination);

class AtomicFile {
  public:
    // Resolves `path`, removes stale temporaries and creates this process's temporary.
    explicit AtomicFile(const std::string& path);
    ~AtomicFile();  // unless committed, closes and removes the temporary
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, size_t n);
    void write(std::string_view text) { write(text.data(), text.size()); }
    // Pushes buffered bytes to the temporary (readable there, not yet under the real name).
    void flush();
    // Flushes, syncs, renames the temporary over the destination and syncs the folder.
    void commit();

    const std::string& path() const { return given_; }
    const std::string& destination() const { return destination_; }
    const std::string& temporary() const { return temporary_; }

  private:
    std::string given_, destination_, temporary_;
    int fd_ = -1;
    std::string buffer_;
    bool committed_ = false;
};

// The whole of `content` as the new `path`, atomically.
void write_file_atomically(const std::string& path, std::string_view content);

// An exclusive claim on an output for the lifetime of this object, so that two runs never write
// the same file: "<destination>.normgrad-lock" holds the owner's pid under an flock(2) lock
// (which the kernel drops when the owner dies, even by kill -9). The lock file is removed on
// destruction. Acquiring a claim someone else holds is a FileError naming their pid.
class OutputLock {
  public:
    OutputLock(const ResolvedPath& output, const std::string& what);
    ~OutputLock();
    OutputLock(const OutputLock&) = delete;
    OutputLock& operator=(const OutputLock&) = delete;

  private:
    std::string lock_path_;
    int fd_ = -1;
};

}  // namespace normgrad
