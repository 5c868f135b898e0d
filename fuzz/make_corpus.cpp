// Writes the seed corpora of the fuzz targets: fuzz_make_corpus <dir> fills <dir>/idx,
// <dir>/checkpoint and <dir>/cli (existing files of the same name are replaced).
//
// Names say what the input is: "ok-*" must be accepted, "bad-*" rejected with the documented
// error; tests/test_fuzz_regressions.cpp checks both. Files from libFuzzer (hash names) may be
// either. Every file is small so that the fuzzer's default input length stays small too.
#include <fmt/format.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "normgrad/safetensors.hpp"

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using namespace normgrad;

namespace {

void write(const fs::path& dir, const std::string& name, const Bytes& bytes) {
    fs::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

Bytes text(const std::string& s) {
    return Bytes(s.begin(), s.end());
}

Bytes concat(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// ---- IDX ----

Bytes idx(const std::vector<uint32_t>& dims, size_t data_bytes, uint8_t type = 0x08) {
    Bytes out = {0, 0, type, static_cast<uint8_t>(dims.size())};
    for (uint32_t d : dims)
        for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(d >> shift));
    for (size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<uint8_t>(i * 7 % 10));
    return out;
}

Bytes gzip(const Bytes& raw) {
    z_stream zs{};
    if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("deflateInit2");
    Bytes out(deflateBound(&zs, raw.size()) + 64);
    zs.next_in = const_cast<Bytef*>(raw.data());
    zs.avail_in = static_cast<uInt>(raw.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

void write_idx(const fs::path& dir) {
    const Bytes labels = idx({6}, 6), images = idx({2, 3, 4}, 24);
    write(dir, "ok-labels-1d", labels);
    write(dir, "ok-images-3d", images);
    write(dir, "ok-2d", idx({2, 2}, 4));
    write(dir, "ok-4d", idx({1, 2, 1, 3}, 6));
    write(dir, "ok-labels-1d.gz", gzip(labels));
    write(dir, "ok-images-3d.gz", gzip(images));
    // Two gzip members: the header in one, the data in the next.
    write(dir, "ok-two-members.gz",
          concat(gzip(Bytes(images.begin(), images.begin() + 16)),
                 gzip(Bytes(images.begin() + 16, images.end()))));

    write(dir, "bad-empty", {});
    write(dir, "bad-short-header", {0, 0, 8});
    write(dir, "bad-magic", concat({0, 1}, Bytes(labels.begin() + 2, labels.end())));
    write(dir, "bad-type-float32", idx({6}, 6, 0x0D));
    write(dir, "bad-zero-dims", idx({}, 0));
    write(dir, "bad-five-dims", idx({1, 1, 1, 1, 1}, 1));
    write(dir, "bad-dim-zero", idx({3, 0}, 0));
    write(dir, "bad-truncated-dims", Bytes(images.begin(), images.begin() + 10));
    write(dir, "bad-truncated-data", Bytes(images.begin(), images.end() - 1));
    write(dir, "bad-trailing-byte", concat(labels, {9}));
    write(dir, "bad-over-limit", idx({0x10000, 0x10000}, 0));
    // 2 GiB declared, 1 MiB of zeros present: refused from the header, before inflating.
    Bytes over = idx({0x8000, 0x10000}, 0);
    over.resize(over.size() + (1 << 20), 0);
    write(dir, "bad-over-limit.gz", gzip(over));
    write(dir, "bad-overflow", idx({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, 0));
    const Bytes gz = gzip(images);
    write(dir, "bad-truncated.gz", Bytes(gz.begin(), gz.end() - 5));
    Bytes corrupt = gz;
    corrupt[corrupt.size() - 6] ^= 0x55;  // the CRC-32 in the trailer
    write(dir, "bad-crc.gz", corrupt);
    write(dir, "bad-garbage-after.gz", concat(gz, {0, 1, 2}));
    write(dir, "bad-trailing-data.gz", gzip(concat(images, {1})));
    write(dir, "bad-magic.gz", gzip(Bytes{0, 0, 0x0C, 1, 0, 0, 0, 1, 0, 0, 0, 0}));
}

// ---- safetensors ----

Bytes saved(const Checkpoint& c) {
    const fs::path tmp = fs::temp_directory_path() / fmt::format("normgrad-corpus-{}", getpid());
    save_checkpoint(tmp.string(), c);
    std::ifstream in(tmp, std::ios::binary);
    Bytes out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    fs::remove(tmp);
    return out;
}

// A file written by hand: `header` padded with spaces to a multiple of 8, then `data`.
Bytes safetensors(std::string header, const Bytes& data) {
    header.append((8 - header.size() % 8) % 8, ' ');
    Bytes out;
    for (int i = 0; i < 8; ++i)
        out.push_back(static_cast<uint8_t>(uint64_t{header.size()} >> 8 * i));
    return concat(concat(out, text(header)), data);
}

// Replaces the first occurrence of `from` in a file's bytes by `to` (of the same length).
Bytes edited(const Bytes& file, const std::string& from, const std::string& to) {
    std::string s(file.begin(), file.end());
    const size_t at = s.find(from);
    if (at == std::string::npos || from.size() != to.size())
        throw std::runtime_error("cannot edit '" + from + "'");
    s.replace(at, from.size(), to);
    return text(s);
}

// Swaps the first occurrences of `x` and `y` (x first) in a file's bytes; the length is kept.
Bytes swapped(const Bytes& file, const std::string& x, const std::string& y) {
    const std::string s(file.begin(), file.end());
    const size_t i = s.find(x), j = s.find(y);
    if (i == std::string::npos || j == std::string::npos || i + x.size() > j)
        throw std::runtime_error("cannot swap '" + x + "' and '" + y + "'");
    return text(s.substr(0, i) + y + s.substr(i + x.size(), j - i - x.size()) + x +
                s.substr(j + y.size()));
}

Tensor values(const Shape& shape, float scale) {
    Tensor t = Tensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = scale * static_cast<float>(i - 2);
    return t;
}

void write_checkpoint(const fs::path& dir) {
    Checkpoint one;
    one.tensors.push_back({"w", values(Shape{2, 3}, 0.5f)});
    const Bytes ok_one = saved(one);
    write(dir, "ok-one-tensor", ok_one);

    Checkpoint model;  // shaped like a small model checkpoint from normgrad train
    model.tensors.push_back({"layers.0.weight", values(Shape{4, 3}, 0.25f)});
    model.tensors.push_back({"layers.0.bias", values(Shape{4}, 1.f)});
    model.tensors.push_back({"layers.1.gamma", values(Shape{4}, 1.f)});
    model.tensors.push_back({"layers.1.running_var", values(Shape{4}, 2.f)});
    model.tensors.push_back({"optim.step", Tensor::scalar(3.f)});
    model.metadata = {{"normgrad.model", "mlp"},       {"normgrad.batchnorm", "on"},
                      {"normgrad.hidden", "4"},        {"normgrad.depth", "1"},
                      {"normgrad.activation", "relu"}, {"normgrad.optimizer", "sgd"}};
    const Bytes ok_model = saved(model);
    write(dir, "ok-model", ok_model);

    Checkpoint ranks;
    ranks.tensors.push_back({"scalar", Tensor::scalar(-1.5f)});
    ranks.tensors.push_back({"conv.weight", values(Shape{1, 2, 1, 2}, 3.f)});
    ranks.tensors.push_back({"empty", Tensor::empty(Shape{0, 3})});
    ranks.metadata = {{"note", "h\u00e9llo \u2713 \"quoted\""}};
    write(dir, "ok-ranks-and-metadata", saved(ranks));
    write(dir, "ok-no-tensors", saved(Checkpoint{}));

    const Bytes four_floats(16, 0x3f);
    write(dir, "ok-no-checksum",
          safetensors(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", four_floats));
    // As PyTorch's safetensors package writes it: no normgrad metadata, so no checksum.
    write(dir, "ok-pytorch-metadata",
          safetensors(R"({"__metadata__":{"format":"pt"},)"
                      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                      four_floats));

    write(dir, "bad-empty", {});
    write(dir, "bad-short", {8, 0, 0});
    write(dir, "bad-zero-header-length", Bytes(16, 0));
    Bytes huge = ok_one;
    huge[5] = 0x7f;
    write(dir, "bad-header-length-huge", huge);
    Bytes past = ok_one;
    past[0] = static_cast<uint8_t>(past.size());
    past[1] = 0;
    write(dir, "bad-header-past-end", past);
    write(dir, "bad-truncated", Bytes(ok_one.begin(), ok_one.end() - 4));
    write(dir, "bad-trailing-byte", concat(ok_one, {0}));
    Bytes flipped = ok_one;
    flipped.back() ^= 1;
    write(dir, "bad-checksum", flipped);
    write(dir, "bad-json", safetensors(R"({"a":{"dtype":"F32",)", {}));
    write(dir, "bad-not-object", safetensors("[1,2]", {}));
    write(dir, "bad-dtype-f16",
          safetensors(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", Bytes(4)));
    write(dir, "bad-negative-shape",
          safetensors(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", Bytes(4)));
    write(
        dir, "bad-rank-5",
        safetensors(R"({"a":{"dtype":"F32","shape":[1,1,1,1,1],"data_offsets":[0,4]}})", Bytes(4)));
    write(dir, "bad-shape-offsets-mismatch",
          safetensors(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", Bytes(8)));
    write(dir, "bad-overlap",
          safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                      Bytes(8)));
    write(dir, "bad-gap",
          safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", Bytes(8)));
    write(dir, "bad-duplicate-name",
          safetensors(R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                      R"("a":{"dtype":"F32","shape":[],"data_offsets":[4,8]}})",
                      Bytes(8)));
    write(dir, "bad-extra-key",
          safetensors(R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4],"x":1}})", Bytes(4)));
    write(dir, "bad-metadata-number", safetensors(R"({"__metadata__":{"format":1}})", {}));
    write(dir, "bad-checksum-not-hex",
          safetensors(R"({"__metadata__":{"normgrad.crc32":"xyz"}})", {}));
    // Header edits that keep the JSON valid: caught by the whole-file CRC-32 only.
    write(dir, "bad-edited-header",
          edited(ok_model, R"("normgrad.activation":"relu")", R"("normgrad.activation":"tanh")"));
    write(dir, "bad-swapped-offsets",
          swapped(ok_model, R"("data_offsets":[48,64])", R"("data_offsets":[64,80])"));
    write(dir, "bad-crc-renamed", edited(ok_model, "\"normgrad.crc32\"", "\"normgrad.crc99\""));
    // An older normgrad's checksum, a CRC-32 of the data section only (here the correct one).
    write(dir, "bad-old-checksum",
          safetensors(fmt::format(R"({{"__metadata__":{{"normgrad.checksum":"{:08x}"}},)"
                                  R"("a":{{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}}})",
                                  crc32(0, four_floats.data(), 16)),
                      four_floats));
    write(dir, "bad-crc-twice",
          safetensors(R"({"__metadata__":{"x\"normgrad.crc32":"00000000",)"
                      R"("normgrad.crc32":"00000000"}})",
                      {}));
    write(dir, "bad-crc-spaced",
          safetensors(R"({"__metadata__":{"normgrad.crc32": "00000000"}})", {}));
    write(dir, "bad-deep-nesting", safetensors(R"({"a":{"b":{"c":{"d":[[1]]}}}})", {}));
    write(dir, "bad-invalid-utf8", safetensors("{\"\xff\":{}}", {}));
}

// ---- command line: one argument per line ----

void write_cli(const fs::path& dir) {
    const std::map<std::string, std::string> files = {
        {"ok-train", "train"},
        {"ok-train-flags",
         "train\n--model\ncnn\n--batchnorm\non\n--epochs\n2\n--batch\n32\n--optimizer\nadamw\n"
         "--lr\n0.01\n--weight-decay\n1e-4\n--schedule\ncosine\n--warmup\n10\n--clip\n1.5\n"
         "--no-decay-bias-norm\n--no-progress"},
        {"ok-train-equals",
         "train\n--model=mlp\n--hidden=16\n--depth=2\n--activation=tanh\n--init=normal\n"
         "--init-std=0.1\n--max-steps=3\n--save=m.safetensors\n--log=l.jsonl\n--data=d\n"
         "--seed=7\n--threads=2\n--optimizer=sgd\n--momentum=0.9\n--nesterov"},
        // Ranges are checked while parsing (examples/cli/flags.hpp): each of these is refused.
        {"bad-train-out-of-range", "train\n--epochs\n-1\n--threads\n9999"},
        {"bad-seed-beyond-64-bits", "train\n--seed\n18446744073709551616"},
        {"bad-not-finite", "train\n--clip\nnan"},
        {"bad-batch-overflow", "train\n--batch\n9223372036854775807"},
        {"bad-gradnorms-training-flag", "gradnorms\n--lr\n0.1"},
        {"ok-train-new-flags",
         "train\n--drop-last\n--log-every\n5\n--init-from\nm.safetensors\n--checkpoint-every\n3"},
        {"ok-eval", "eval\n--load\nm.safetensors\n--data\nd\n--threads\n1"},
        {"ok-nul-separated", std::string("eval\0--load\0with\nnewline", 24)},
        {"bad-empty", ""},
        {"bad-help", "--help"},
        {"bad-version", "--version"},
        {"bad-train-help", "train\n-h"},
        {"bad-unknown-flag", "train\n--bogus"},
        {"bad-not-a-number", "train\n--epochs\nabc"},
        {"bad-not-a-member", "train\n--model\nrnn"},
        {"bad-missing-value", "train\n--lr"},
        {"bad-eval-without-load", "eval"},
        {"bad-unknown-command", "serve"},
        {"bad-two-commands", "train\neval\n--load\nm"},
    };
    for (const auto& [name, content] : files) write(dir, name, text(content));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
        return 2;
    }
    const fs::path dir = argv[1];
    write_idx(dir / "idx");
    write_checkpoint(dir / "checkpoint");
    write_cli(dir / "cli");
    return 0;
}
