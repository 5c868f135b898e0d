#include "normgrad/storage.hpp"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace normgrad {

OutOfMemory::OutOfMemory(size_t bytes)
    : bytes(bytes),
      what_(bytes >= (size_t{1} << 30)
                ? fmt::format("allocating {:.1f} GB for a tensor", double(bytes) / (1 << 30))
                : fmt::format("allocating {:.1f} MB for a tensor", double(bytes) / (1 << 20))) {}

namespace {

constexpr size_t kAlignment = 64;  // a cache line; also what AVX-512 loads like
// Buffers from this size on are mapped from the operating system directly (mmap) and unmapped
// when released, so that their memory really goes back: the heap would keep it.
constexpr size_t kMapBytes = size_t{1} << 20;

// The pool's policy:
//  - a buffer of exactly the size asked for, when one is free, is reused (a hit);
//  - otherwise (a miss) a new one is allocated; but first, when the free buffers hold more
//    memory than the buffers in use, all free buffers are released. In the steady state of
//    training every size is a hit. A miss while most of the pool sits unused means the shapes
//    changed (the last, smaller batch of an epoch, evaluation with another batch size): the
//    buffers kept for the old shapes would only add to the memory in use. (Misses in a step
//    that still holds its activations, such as the very first one, release nothing, so the
//    buffers the next step will ask for are all kept.) Inside a Storage::KeepBuffers scope
//    (keep > 0) only the scope's first miss may release: what an earlier loop of other shapes
//    left (the epoch's last, smaller training batch before an evaluation) goes back then, and
//    the scope's own buffers stay.
struct Pool {
    std::mutex mutex;
    std::unordered_map<size_t, std::vector<float*>> free_lists;  // keyed by element count
    size_t reserved_bytes = 0;                                   // in use or free
    size_t free_bytes = 0;
    size_t allocations = 0;  // misses: buffers obtained from the system
    int keep = 0;            // live KeepBuffers scopes
    bool kept_miss = false;  // a miss happened since the outermost live scope began

    static size_t bytes_for(size_t n) {
        return (n * sizeof(float) + kAlignment - 1) / kAlignment * kAlignment;
    }

    static float* allocate(size_t n) {
        if (n > (SIZE_MAX - kAlignment) / sizeof(float)) throw OutOfMemory(SIZE_MAX);
        const size_t bytes = bytes_for(n);
        void* p = nullptr;
        if (bytes >= kMapBytes) {
            p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) throw OutOfMemory(bytes);
        } else {
            p = std::aligned_alloc(kAlignment, bytes);
            if (!p) throw OutOfMemory(bytes);
        }
        return static_cast<float*>(p);
    }

    static void deallocate(float* p, size_t n) {
        const size_t bytes = bytes_for(n);
        if (bytes >= kMapBytes)
            munmap(p, bytes);
        else
            std::free(p);
    }

    float* acquire(size_t n) {
        {
            std::lock_guard lock(mutex);
            auto it = free_lists.find(n);
            if (it != free_lists.end() && !it->second.empty()) {
                float* p = it->second.back();
                it->second.pop_back();
                free_bytes -= n * sizeof(float);
                return p;
            }
            const bool rule_applies = keep == 0 || !kept_miss;
            if (keep > 0) kept_miss = true;
            if (rule_applies && free_bytes > reserved_bytes - free_bytes) release_locked();
            reserved_bytes += n * sizeof(float);
            ++allocations;
        }
        try {
            return allocate(n);
        } catch (...) {
            std::lock_guard lock(mutex);
            reserved_bytes -= n * sizeof(float);
            --allocations;
            throw;
        }
    }

    void give_back(float* p, size_t n) {
        std::lock_guard lock(mutex);
        free_lists[n].push_back(p);
        free_bytes += n * sizeof(float);
    }

    void release_locked() {
        if (free_bytes == 0) return;
        for (auto& [n, list] : free_lists) {
            for (float* p : list) deallocate(p, n);
            reserved_bytes -= n * sizeof(float) * list.size();
            list.clear();
        }
        free_bytes = 0;
    }

    void release_cached() {
        std::lock_guard lock(mutex);
        release_locked();
    }

    ~Pool() { release_cached(); }
};

Pool& pool() {
    static Pool* p = new Pool();  // intentionally immortal: tensors may die during static teardown
    return *p;
}

// Frees the cached buffers at exit so leak checkers see a clean heap.
struct PoolReleaser {
    ~PoolReleaser() { pool().release_cached(); }
} pool_releaser;

}  // namespace

Storage::Storage(size_t n) : size_(n) {
    if (n > 0) data_ = pool().acquire(n);
}

Storage::~Storage() {
    if (data_) pool().give_back(data_, size_);
}

std::shared_ptr<Storage> Storage::zeros(size_t n) {
    auto s = make(n);
    if (n) std::memset(s->data(), 0, n * sizeof(float));
    return s;
}

void Storage::release_cached() {
    pool().release_cached();
}

size_t Storage::bytes_reserved() {
    std::lock_guard lock(pool().mutex);
    return pool().reserved_bytes;
}

size_t Storage::buffers_allocated() {
    std::lock_guard lock(pool().mutex);
    return pool().allocations;
}

Storage::KeepBuffers::KeepBuffers() {
    std::lock_guard lock(pool().mutex);
    if (pool().keep++ == 0) pool().kept_miss = false;
}

Storage::KeepBuffers::~KeepBuffers() {
    std::lock_guard lock(pool().mutex);
    --pool().keep;
}

}  // namespace normgrad
