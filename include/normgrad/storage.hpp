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
    // Buffers the pool has obtained from the system so far (its misses), for tests and reports.
    static size_t buffers_allocated();

    // While one of these is alive, the pool keeps its free buffers on a miss instead of
    // releasing them (storage.cpp's rule). For loops that repeat one forward pass without a tape
    // (evaluation, inference, recalibration): what such a pass holds at any moment is an
    // activation or two, fewer bytes than the buffers of all the sizes it asks for, so the rule
    // released them at some miss of every batch and mapped them again in the next (`normgrad
    // eval` of the cnn with BatchNorm: 867 K page faults for the 10,000 test images, 2.9 s
    // where it now takes 1.2). The scope's first miss alone still follows the rule: an
    // evaluation after a training step reuses the step's free buffers where the sizes match
    // (no miss), and where they do not (after the epoch's last, smaller batch) its first miss
    // gives them back, instead of keeping them beside its own (a full epoch of the cnn with
    // BatchNorm at one thread peaked at 193 MB that way, 170 MB with the first miss's rule).
    class KeepBuffers {
      public:
        KeepBuffers();
        ~KeepBuffers();
        KeepBuffers(const KeepBuffers&) = delete;
        KeepBuffers& operator=(const KeepBuffers&) = delete;
    };

  private:
    float* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace normgrad
