// The --arch parser: recursive descent over the characters of the spec (arch.hpp).
#include "normgrad/train/arch.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>

namespace normgrad::train {

namespace {

using Kind = ArchLayer::Kind;

constexpr int64_t kMaxWidth = int64_t{1} << 20;
constexpr int kMaxKernel = 15;
constexpr int kMaxResidualDepth = 8;

// Text for a message: control bytes as \xNN, so that a message is never cut short by a NUL.
std::string printable(const std::string& text) {
    std::string out;
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f)
            out += fmt::format("\\x{:02x}", c);
        else
            out += ch;
    }
    return out;
}

class Parser {
  public:
    Parser(const std::string& text, const std::string& what) : s_(text), what_(what) {}

    std::vector<ArchLayer> spec() {
        // A spec is text: a control byte (a NUL from a binary @FILE, say) is named first.
        for (size_t i = 0; i < s_.size(); ++i) {
            const auto c = static_cast<unsigned char>(s_[i]);
            if ((c < 0x20 && !std::isspace(c)) || c == 0x7f)
                fail(i, fmt::format("byte 0x{:02x}", c), "expected printable text");
        }
        std::vector<ArchLayer> layers = list(0);
        skip_space();
        if (at_ < s_.size())
            fail(at_, fmt::format("'{}'", s_[at_]), "expected ',' or the end of the spec");
        return layers;
    }

  private:
    [[noreturn]] void fail(size_t position, const std::string& token,
                           const std::string& expected) const {
        throw ArchError(fmt::format("{} '{}': {} at character {}: {}", what_, printable(s_),
                                    printable(token), position + 1, expected));
    }

    void skip_space() {
        while (at_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[at_]))) ++at_;
    }

    // Layers up to the end of the spec (depth 0) or the ')' that closes a block.
    std::vector<ArchLayer> list(int depth) {
        std::vector<ArchLayer> layers;
        for (;;) {
            skip_space();
            if (at_ == s_.size() || s_[at_] == ',' || s_[at_] == ')')
                fail(at_, at_ == s_.size() ? "the end" : fmt::format("'{}'", s_[at_]),
                     "expected a layer (dense:N, convKxK:C, norm, relu, maxpoolK, gap, "
                     "res(...), ...)");
            layers.push_back(item(depth));
            skip_space();
            if (at_ < s_.size() && s_[at_] == ',') {
                ++at_;
                continue;
            }
            return layers;
        }
    }

    ArchLayer item(int depth) {
        const size_t start = at_;
        while (at_ < s_.size() && s_[at_] != ',' && s_[at_] != '(' && s_[at_] != ')' &&
               !std::isspace(static_cast<unsigned char>(s_[at_])))
            ++at_;
        const std::string word = s_.substr(start, at_ - start);
        if (word == "res") {
            skip_space();
            if (at_ == s_.size() || s_[at_] != '(')
                fail(start, "'res'", "expected '(' and the block's layers, as in res(relu)");
            if (depth >= kMaxResidualDepth)
                fail(start, "'res'",
                     fmt::format("expected at most {} nested residual blocks", kMaxResidualDepth));
            ++at_;
            ArchLayer block{Kind::Residual, "res(...)", start};
            block.inner = list(depth + 1);
            skip_space();
            if (at_ == s_.size() || s_[at_] != ')')
                fail(at_, at_ == s_.size() ? "the end" : fmt::format("'{}'", s_[at_]),
                     fmt::format("expected ')' to close the residual block opened at "
                                 "character {}",
                                 start + 1));
            ++at_;
            return block;
        }
        if (at_ < s_.size() && s_[at_] == '(')
            fail(start, fmt::format("'{}('", word), "only res takes a block in parentheses");
        return layer(word, start);
    }

    // "32" as a whole number in [lo, hi], else an error naming the token.
    int64_t number(const std::string& text, const std::string& token, size_t position, int64_t lo,
                   int64_t hi, const std::string& what) const {
        int64_t v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < lo ||
            v > hi)
            fail(position, fmt::format("'{}'", token),
                 fmt::format("expected {} ({}..{}), got '{}'", what, lo, hi, text));
        return v;
    }

    ArchLayer layer(const std::string& token, size_t position) {
        std::vector<std::string> parts;
        for (size_t b = 0;;) {
            const size_t e = token.find(':', b);
            parts.push_back(token.substr(b, e - b));
            if (e == std::string::npos) break;
            b = e + 1;
        }
        const std::string& head = parts[0];
        const std::string quoted = fmt::format("'{}'", token);
        ArchLayer l{Kind::Flatten, token, position};
        auto no_arguments = [&] {
            if (parts.size() > 1)
                fail(position, quoted, fmt::format("'{}' takes no ':' argument", head));
        };
        auto one_argument = [&](const std::string& example) {
            if (parts.size() != 2 || parts[1].empty())
                fail(position, quoted,
                     fmt::format("expected one argument after '{}:', as in {}", head, example));
        };
        if (head == "dense") {
            one_argument("dense:64");
            l.kind = Kind::Dense;
            l.size = number(parts[1], token, position, 1, kMaxWidth, "a number of features");
        } else if (head.rfind("conv", 0) == 0) {
            const std::string k = head.substr(4);
            const size_t x = k.find('x');
            if (x == std::string::npos || k.substr(0, x) != k.substr(x + 1))
                fail(position, quoted,
                     "expected a square kernel written convKxK, as in conv3x3:32");
            l.kind = Kind::Conv;
            l.kernel = int(number(k.substr(0, x), token, position, 1, kMaxKernel, "a kernel size"));
            if (parts.size() < 2 || parts[1].empty())
                fail(position, quoted,
                     fmt::format("expected the number of output channels after '{}:', as in "
                                 "{}:32",
                                 head, head));
            l.size = number(parts[1], token, position, 1, kMaxWidth, "a number of channels");
            for (size_t i = 2; i < parts.size(); ++i) {
                const std::string& o = parts[i];
                if (!o.empty() && o[0] == 's')
                    l.stride = int(number(o.substr(1), token, position, 1, kMaxKernel, "a stride"));
                else if (!o.empty() && o[0] == 'p')
                    l.padding =
                        int(number(o.substr(1), token, position, 0, kMaxKernel, "a padding"));
                else
                    fail(position, quoted,
                         fmt::format("expected ':sS' (stride) or ':pP' (padding), got ':{}'", o));
            }
        } else if (head == "norm" || head == "batchnorm" || head == "layernorm" ||
                   head == "rmsnorm") {
            no_arguments();
            l.kind = head == "norm"        ? Kind::Norm
                     : head == "batchnorm" ? Kind::BatchNorm
                     : head == "layernorm" ? Kind::LayerNorm
                                           : Kind::RMSNorm;
        } else if (head == "groupnorm") {
            one_argument("groupnorm:8");
            l.kind = Kind::GroupNorm;
            l.size = number(parts[1], token, position, 1, kMaxWidth, "a number of groups");
        } else if (head == "relu" || head == "sigmoid" || head == "tanh" || head == "act") {
            no_arguments();
            l.kind = Kind::Activation;
            l.activation = head == "act" ? "" : head;
        } else if (head.rfind("maxpool", 0) == 0 || head.rfind("avgpool", 0) == 0) {
            no_arguments();
            l.kind = head[0] == 'm' ? Kind::MaxPool : Kind::AvgPool;
            if (head.size() == 7)
                fail(position, quoted,
                     fmt::format("expected the pooling size after '{}', as in {}2", head, head));
            l.kernel = int(number(head.substr(7), token, position, 1, kMaxKernel, "a pool size"));
        } else if (head == "gap") {
            no_arguments();
            l.kind = Kind::GlobalAvgPool;
        } else if (head == "flatten") {
            no_arguments();
            l.kind = Kind::Flatten;
        } else if (head == "dropout") {
            one_argument("dropout:0.5");
            l.kind = Kind::Dropout;
            double p = -1.0;
            const auto [end, ec] =
                std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), p);
            if (ec != std::errc() || end != parts[1].data() + parts[1].size() ||
                !std::isfinite(p) || p < 0.0 || p >= 1.0)
                fail(position, quoted,
                     fmt::format("expected a dropout rate in [0, 1), got '{}'", parts[1]));
            l.rate = static_cast<float>(p);
        } else {
            fail(position, quoted,
                 "unknown layer (expected dense:N, convKxK:C, norm, batchnorm, layernorm, "
                 "groupnorm:G, rmsnorm, relu, sigmoid, tanh, act, maxpoolK, avgpoolK, gap, "
                 "dropout:P, flatten or res(...))");
        }
        return l;
    }

    const std::string& s_;
    const std::string& what_;
    size_t at_ = 0;
};

}  // namespace

Arch parse_arch(const std::string& text, const std::string& what) {
    Arch a;
    a.text = text;
    a.layers = Parser(text, what).spec();
    return a;
}

}  // namespace normgrad::train
