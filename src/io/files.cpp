// Atomic writes, path resolution and output locks (files.hpp).
#include "normgrad/files.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace normgrad {

namespace {

namespace fs = std::filesystem;

constexpr int kMaxSymlinks = 40;  // as the kernel's own limit (MAXSYMLINKS)
constexpr size_t kBufferBytes = size_t{1} << 20;

std::string errno_text(int err) {
    return std::strerror(err);
}

std::string kind_of(mode_t mode) {
    if (S_ISREG(mode)) return "regular file";
    if (S_ISDIR(mode)) return "directory";
    if (S_ISFIFO(mode)) return "FIFO";
    if (S_ISCHR(mode)) return "character device";
    if (S_ISBLK(mode)) return "block device";
    if (S_ISSOCK(mode)) return "socket";
    return "special file";
}

// realpath(3) of an existing path, or the path made absolute and normal when it cannot resolve.
std::string real_or_normal(const fs::path& p) {
    char buf[PATH_MAX];
    if (::realpath(p.c_str(), buf)) return buf;
    return fs::absolute(p).lexically_normal().string();
}

std::string folder_of(const std::string& resolved) {
    std::string dir = fs::path(resolved).parent_path().string();
    return dir.empty() ? "." : dir;
}

}  // namespace

ResolvedPath resolve_path(const std::string& path) {
    if (path.empty()) throw FileError("an empty file name (expected a path)");
    ResolvedPath r;
    r.given = path;
    fs::path p = fs::absolute(path);
    for (int hops = 0;; ++hops) {
        if (hops > kMaxSymlinks)
            throw FileError(
                fmt::format("{}: symbolic link loop (too many levels of symbolic links)", path));
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) {
            const int err = errno;
            if (err == ELOOP)
                throw FileError(fmt::format(
                    "{}: symbolic link loop (too many levels of symbolic links)", path));
            if (err == ENOTDIR)
                throw FileError(fmt::format(
                    "{}: a part of the path before the file name is not a folder", path));
            if (err != ENOENT)
                throw FileError(fmt::format("{}: cannot access: {}", path, errno_text(err)));
            // A new file: its folder, resolved, plus its name.
            r.resolved = (fs::path(real_or_normal(p.parent_path())) / p.filename()).string();
            return r;
        }
        if (S_ISLNK(st.st_mode)) {
            std::string target(size_t(PATH_MAX), '\0');
            const ssize_t n = ::readlink(p.c_str(), target.data(), target.size());
            if (n < 0)
                throw FileError(fmt::format("{}: cannot read the symbolic link {}: {}", path,
                                            p.string(), errno_text(errno)));
            target.resize(size_t(n));
            const fs::path t(target);
            p = t.is_absolute() ? t : p.parent_path() / t;
            continue;
        }
        r.exists = true;
        r.is_regular = S_ISREG(st.st_mode);
        r.dev = st.st_dev;
        r.ino = st.st_ino;
        r.kind = kind_of(st.st_mode);
        r.resolved = real_or_normal(p);
        return r;
    }
}

bool same_file(const ResolvedPath& a, const ResolvedPath& b) {
    if (a.exists && b.exists) return a.dev == b.dev && a.ino == b.ino;
    return a.resolved == b.resolved;
}

ResolvedPath check_writable_output(const std::string& path, const std::string& what) {
    ResolvedPath r;
    try {
        r = resolve_path(path);
    } catch (const FileError& e) {
        throw FileError(fmt::format("{} {}", what, e.what()));
    }
    if (r.exists && !r.is_regular)
        throw FileError(
            fmt::format("{} {}: is a {} (expected a regular file to replace, or the "
                        "name of a new file)",
                        what, path, r.kind));
    const std::string dir = folder_of(r.resolved);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        throw FileError(
            fmt::format("{} {}: the folder {} does not exist (create it first)", what, path, dir));
    if (!S_ISDIR(st.st_mode))
        throw FileError(fmt::format("{} {}: {} is not a folder", what, path, dir));
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        throw FileError(fmt::format("{} {}: the folder {} is not writable ({})", what, path, dir,
                                    errno_text(errno)));
    if (r.exists && ::access(r.resolved.c_str(), W_OK) != 0)
        throw FileError(
            fmt::format("{} {}: the file exists and is read-only (expected a file "
                        "this user may replace)",
                        what, path));
    return r;
}

int remove_stale_temporaries(const std::string& destination) {
    const fs::path dest(destination);
    const std::string prefix = dest.filename().string() + std::string(kTempSuffix);
    std::error_code ec;
    int removed = 0;
    for (fs::directory_iterator it(folder_of(destination), ec), end; !ec && it != end;
         it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
        const std::string digits = name.substr(prefix.size());
        if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
            continue;
        const auto pid = static_cast<pid_t>(std::stol(digits));
        if (pid == ::getpid()) continue;
        // ESRCH: no such process. (EPERM means it runs under another user: leave it.)
        if (::kill(pid, 0) == -1 && errno == ESRCH && ::unlink(it->path().c_str()) == 0) ++removed;
    }
    return removed;
}

AtomicFile::AtomicFile(const std::string& path) : given_(path) {
    const ResolvedPath r = resolve_path(path);
    if (r.exists && !r.is_regular)
        throw FileError(
            fmt::format("{}: is a {} (expected a regular file to replace)", path, r.kind));
    destination_ = r.resolved;
    temporary_ = fmt::format("{}{}{}", destination_, kTempSuffix, ::getpid());
    remove_stale_temporaries(destination_);
    fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0)
        throw FileError(fmt::format("{}: cannot create the temporary file {}: {}", path, temporary_,
                                    errno_text(errno)));
    // A replaced file keeps its permissions.
    struct stat st {};
    if (r.exists && ::stat(destination_.c_str(), &st) == 0) ::fchmod(fd_, st.st_mode & 07777);
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !temporary_.empty()) ::unlink(temporary_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
    if (fd_ < 0) throw FileError(fmt::format("{}: write after commit", given_));
    const auto* p = static_cast<const char*>(data);
    if (buffer_.size() + n <= kBufferBytes) {
        buffer_.append(p, n);
        return;
    }
    flush();
    if (n < kBufferBytes) {
        buffer_.append(p, n);
        return;
    }
    while (n > 0) {
        const ssize_t k = ::write(fd_, p, std::min<size_t>(n, size_t{1} << 30));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            throw FileError(fmt::format("{}: cannot write {}: {}", given_, temporary_,
                                        k < 0 ? errno_text(errno) : "no progress"));
        p += k;
        n -= size_t(k);
    }
}

void AtomicFile::flush() {
    size_t done = 0;
    while (done < buffer_.size()) {
        const ssize_t k = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            throw FileError(fmt::format("{}: cannot write {}: {}", given_, temporary_,
                                        k < 0 ? errno_text(errno) : "no progress"));
        done += size_t(k);
    }
    buffer_.clear();
}

void AtomicFile::commit() {
    flush();
    if (::fsync(fd_) != 0)
        throw FileError(
            fmt::format("{}: cannot sync {}: {}", given_, temporary_, errno_text(errno)));
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0)
        throw FileError(
            fmt::format("{}: cannot close {}: {}", given_, temporary_, errno_text(errno)));
    if (::rename(temporary_.c_str(), destination_.c_str()) != 0)
        throw FileError(fmt::format("{}: cannot rename {} into place: {}", given_, temporary_,
                                    errno_text(errno)));
    committed_ = true;
    // Make the rename itself durable (best effort: some file systems refuse a folder fsync).
    const int dfd = ::open(folder_of(destination_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

void write_file_atomically(const std::string& path, std::string_view content) {
    AtomicFile f(path);
    f.write(content);
    f.commit();
}

OutputLock::OutputLock(const ResolvedPath& output, const std::string& what)
    : lock_path_(output.resolved + ".normgrad-lock") {
    for (int attempt = 0;; ++attempt) {
        fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0)
            throw FileError(fmt::format("{} {}: cannot create the lock file {}: {}", what,
                                        output.given, lock_path_, errno_text(errno)));
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            char buf[32] = {};
            const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
            ::close(fd_);
            fd_ = -1;
            if (err != EWOULDBLOCK)
                throw FileError(fmt::format("{} {}: cannot lock {}: {}", what, output.given,
                                            lock_path_, errno_text(err)));
            std::string pid = n > 0 ? std::string(buf, size_t(n)) : "";
            while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
            throw FileError(fmt::format(
                "{} {} is in use by another normgrad run (pid {}); wait for it to finish or "
                "choose another file",
                what, output.given, pid.empty() ? "unknown" : pid));
        }
        // The previous owner may have removed the file between our open and our lock: then the
        // lock is on a file nobody else will see. Start again with the file now at that name.
        struct stat held {
        }, now{};
        if (::fstat(fd_, &held) == 0 && ::stat(lock_path_.c_str(), &now) == 0 &&
            held.st_dev == now.st_dev && held.st_ino == now.st_ino)
            break;
        ::close(fd_);
        fd_ = -1;
        if (attempt > 100)
            throw FileError(fmt::format("{} {}: cannot lock {}: it keeps being replaced", what,
                                        output.given, lock_path_));
    }
    const std::string pid = fmt::format("{}\n", ::getpid());
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
        // The lock holds without the pid; a competitor's message then says "pid unknown".
    }
}

OutputLock::~OutputLock() {
    if (fd_ < 0) return;
    ::unlink(lock_path_.c_str());
    ::close(fd_);
}

}  // namespace normgrad
