// A std::FILE that closes itself: the readers of src/io/ open their input with it, so that an
// error thrown halfway through a read does not leak the file.
#pragma once

#include <cstdio>
#include <memory>

namespace normgrad::io {

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace normgrad::io
