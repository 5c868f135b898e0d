// Atomic files, path resolution, output locks, stop requests and out-of-memory messages.
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "normgrad/activity.hpp"
#include "normgrad/files.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/storage.hpp"

using namespace normgrad;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

struct Folder {
    fs::path dir;
    Folder() {
        dir = fs::temp_directory_path() / ("normgrad-files-test-" + std::to_string(getpid()));
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    ~Folder() { fs::remove_all(dir); }
    std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

int entries(const fs::path& dir) {
    int n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

}  // namespace

TEST_CASE("AtomicFile: the file appears complete or not at all", "[files]") {
    Folder f;
    const std::string path = f / "out.txt";
    std::ofstream(path) << "old";
    {
        AtomicFile a(path);
        a.write("new ");
        a.flush();
        // While it is written, the old file is intact and the new bytes are in the temporary.
        CHECK(slurp(path) == "old");
        CHECK(a.temporary() == path + ".normgrad-tmp-" + std::to_string(getpid()));
        CHECK(slurp(a.temporary()) == "new ");
        // Not committed: the temporary goes, the old file stays.
    }
    CHECK(slurp(path) == "old");
    CHECK(entries(f.dir) == 1);
    {
        AtomicFile a(path);
        a.write(std::string(3 << 20, 'x'));  // larger than the buffer: written straight through
        a.write("end");
        a.commit();
    }
    CHECK(slurp(path).size() == (3u << 20) + 3);
    CHECK(entries(f.dir) == 1);
    write_file_atomically(path, "short");
    CHECK(slurp(path) == "short");
}

TEST_CASE("AtomicFile: a symbolic link is followed; special files are refused", "[files]") {
    Folder f;
    std::ofstream(f / "target") << "old";
    fs::create_symlink("target", f / "link");
    write_file_atomically(f / "link", "new");
    CHECK(fs::is_symlink(f / "link"));
    CHECK(slurp(f / "target") == "new");
    // A dangling link: its target is created.
    fs::create_symlink("absent", f / "dangling");
    write_file_atomically(f / "dangling", "made");
    CHECK(fs::is_symlink(f / "dangling"));
    CHECK(slurp(f / "absent") == "made");
    // A loop, a directory, a FIFO and a device are never replaced.
    fs::create_symlink("loop", f / "loop");
    CHECK_THROWS_WITH(write_file_atomically(f / "loop", "x"), Contains("symbolic link loop"));
    fs::create_directory(f / "dir");
    CHECK_THROWS_WITH(write_file_atomically(f / "dir", "x"), Contains("is a directory"));
    REQUIRE(mkfifo((f / "fifo").c_str(), 0600) == 0);
    CHECK_THROWS_WITH(write_file_atomically(f / "fifo", "x"), Contains("is a FIFO"));
    // A null device of the test's own (a link to /dev/null where mknod is not allowed), so that
    // a regression run as root cannot replace the system's /dev/null.
    if (mknod((f / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0)
        fs::create_symlink("/dev/null", f / "null");
    CHECK_THROWS_WITH(write_file_atomically(f / "null", "x"), Contains("character device"));
    CHECK(fs::is_fifo(f / "fifo"));
    CHECK(fs::is_character_file(f / "null"));
}

TEST_CASE("AtomicFile: keeps the permissions of the file it replaces", "[files]") {
    Folder f;
    std::ofstream(f / "p") << "x";
    fs::permissions(f / "p", fs::perms::owner_read | fs::perms::owner_write);
    write_file_atomically(f / "p", "y");
    CHECK((fs::status(f / "p").permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));
}

TEST_CASE("remove_stale_temporaries: only those of writers that are gone", "[files]") {
    Folder f;
    const std::string dest = fs::canonical(f.dir).string() + "/m.safetensors";
    for (const char* name : {"m.safetensors.normgrad-tmp-999999", "m.safetensors.normgrad-tmp-1",
                             "m.safetensors.normgrad-tmp-12x", "other.normgrad-tmp-999999"})
        std::ofstream(f / name) << "x";
    REQUIRE(kill(999999, 0) == -1);  // no such process here
    CHECK(remove_stale_temporaries(dest) == 1);
    CHECK(!fs::exists(f / "m.safetensors.normgrad-tmp-999999"));
    CHECK(fs::exists(f / "m.safetensors.normgrad-tmp-1"));    // pid 1 is alive
    CHECK(fs::exists(f / "m.safetensors.normgrad-tmp-12x"));  // not a temporary's name
    CHECK(fs::exists(f / "other.normgrad-tmp-999999"));       // another file's
}

TEST_CASE("resolve_path and same_file see through links", "[files]") {
    Folder f;
    std::ofstream(f / "a") << "x";
    fs::create_symlink("a", f / "soft");
    fs::create_hard_link(f / "a", f / "hard");
    const ResolvedPath a = resolve_path(f / "a");
    CHECK(a.exists);
    CHECK(a.is_regular);
    CHECK(same_file(a, resolve_path(f / "soft")));
    CHECK(same_file(a, resolve_path(f / "hard")));
    CHECK(same_file(resolve_path(f / "new"), resolve_path(f.dir.string() + "/./new")));
    CHECK_FALSE(same_file(a, resolve_path(f / "new")));
    CHECK_THROWS_WITH(check_writable_output(f / "none/x", "--save"),
                      Contains("--save") && Contains("does not exist"));
    CHECK_THROWS_WITH(check_writable_output(f / "a/x", "--log"),
                      Contains("--log") && Contains("not a folder"));
}

TEST_CASE("OutputLock: one claim per output, released by its owner", "[files]") {
    Folder f;
    const ResolvedPath out = resolve_path(f / "log.jsonl");
    {
        OutputLock first(out, "--log");
        CHECK(fs::exists(f / "log.jsonl.normgrad-lock"));
        CHECK_THROWS_WITH(
            OutputLock(out, "--log"),
            Contains("in use by another normgrad run (pid " + std::to_string(getpid()) + ")"));
    }
    CHECK(!fs::exists(f / "log.jsonl.normgrad-lock"));
    // A lock file left by a killed owner holds no lock: the next claim succeeds.
    std::ofstream(f / "log.jsonl.normgrad-lock") << "999999\n";
    OutputLock again(out, "--log");
}

TEST_CASE("stop requests: the signal is named, the next safe point throws", "[files]") {
    install_stop_handlers();
    clear_stop_request();
    CHECK_NOTHROW(throw_if_stop_requested("testing"));
    raise(SIGTERM);  // handled: the process goes on
    CHECK(stop_requested());
    CHECK(stop_reason() == "SIGTERM");
    CHECK_THROWS_AS(throw_if_stop_requested("loading"), StopRequested);
    CHECK_THROWS_WITH(throw_if_stop_requested("loading"),
                      Contains("interrupted by SIGTERM while loading"));
    clear_stop_request();
    raise(SIGHUP);
    CHECK(stop_reason() == "SIGHUP");
    clear_stop_request();
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
}

TEST_CASE("out of memory: the size and the activity are named", "[files]") {
    std::string message, where;
    try {
        Activity outer("training");
        Activity inner("step 5");
        Storage s(size_t{1} << 60);  // 4 EiB: no machine has it
    } catch (const OutOfMemory& e) {
        message = e.what();
        where = failed_activity();
    }
    CHECK_THAT(message, Contains("allocating") && Contains("GB for a tensor"));
    CHECK(where == "training, step 5");
    CHECK(current_activity().empty());
}

TEST_CASE("check_writable_output: a folder the user may not write is refused", "[files]") {
    // As root every folder is writable, so the check runs in a child as the user nobody.
    Folder f;
    fs::permissions(f.dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        if (getuid() == 0 && setuid(65534) != 0) _exit(3);
        try {
            check_writable_output(f / "m.safetensors", "--save");
        } catch (const FileError& e) {
            const std::string m = e.what();
            _exit(m.find("--save") != std::string::npos &&
                          m.find("is not writable") != std::string::npos
                      ? 0
                      : 2);
        }
        _exit(1);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
