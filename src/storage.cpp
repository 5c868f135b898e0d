#include "normgrad/storage.hpp"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace normgrad {

namespace {

constexpr size_t kAlignment = 64;  // a cache line; also what AVX-512 loads like

struct Pool {
    std::mutex mutex;
    std::unordered_map<size_t, std::vector<float*>> free_lists;  // keyed by element count
    size_t reserved_bytes = 0;

    float* acquire(size_t n) {
        {
            std::lock_guard lock(mutex);
            auto it = free_lists.find(n);
            if (it != free_lists.end() && !it->second.empty()) {
                float* p = it->second.back();
                it->second.pop_back();
                return p;
            }
            reserved_bytes += n * sizeof(float);
        }
        size_t bytes = (n * sizeof(float) + kAlignment - 1) / kAlignment * kAlignment;
        void* p = std::aligned_alloc(kAlignment, bytes);
        if (!p) throw std::bad_alloc();
        return static_cast<float*>(p);
    }

    void give_back(float* p, size_t n) {
        std::lock_guard lock(mutex);
        free_lists[n].push_back(p);
    }

    void release_cached() {
        std::lock_guard lock(mutex);
        for (auto& [n, list] : free_lists) {
            for (float* p : list) std::free(p);
            reserved_bytes -= n * sizeof(float) * list.size();
            list.clear();
        }
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

}  // namespace normgrad
