// A float buffer whose memory comes from a process-wide pool.
//
// Training repeats the same forward/backward pass thousands of times with the same shapes, so the
// buffers freed at the end of one step are exactly the ones the next step asks for. Returning them
// to a free list keyed by size (instead of to the heap) removes allocation from the steady state.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <string>

namespace normgrad {

// A tensor buffer the system would not give: says how large it was.
class OutOfMemory : public std::bad_alloc {
  public:
    explicit OutOfMemory(size_t bytes);
    const char* what() const noexcept override { return what_.c_str(); }
    size_t bytes;

  private:
    std::string what_;
};

class Storage {
  public:
    // Uninitialised memory for n floats (n may be 0).
    explicit Storage(size_t n);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    float* data() const { return data_; }
    size_t size() const { return size_; }

    static std::shared_ptr<Storage> make(size_t n) { return std::make_shared<Storage>(n); }
    static std::shared_ptr<Storage> zeros(size_t n);

    // Returns all cached (currently unused) buffers to the heap.
    static void release_cached();
    // Bytes currently held by the pool, in use or cached (for the memory report).
    static size_t bytes_reserved();

  private:
    float* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace normgrad
