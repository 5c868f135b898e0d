// Conv2d: a square-kernel 2-D convolution with optional bias.
#include "normgrad/layers/conv2d.hpp"

#include <fmt/format.h>

#include "init.hpp"
#include "normgrad/layer_registry.hpp"

namespace normgrad {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int kernel, Rng& rng, int stride,
               int padding, Init init, bool bias)
    : in_channels(in_channels),
      out_channels(out_channels),
      kernel(kernel),
      params{stride, padding} {
    if (in_channels < 1 || out_channels < 1 || kernel < 1 || stride < 1 || padding < 0)
        throw std::invalid_argument(fmt::format(
            "Conv2d: need positive channels, kernel and stride and padding >= 0, got in {} out {} "
            "kernel {} stride {} padding {}",
            in_channels, out_channels, kernel, stride, padding));
    const int64_t fan_in = in_channels * kernel * kernel;
    weight = register_parameter(
        "weight",
        detail::init_weight({out_channels, in_channels, kernel, kernel}, fan_in, rng, init));
    if (bias)
        this->bias =
            register_parameter("bias", detail::init_bias(out_channels, fan_in, rng, init), true);
}

Tensor Conv2d::forward(const Tensor& x) {
    return conv2d(x, weight, bias, params);
}

std::string Conv2d::describe() const {
    return fmt::format("Conv2d({} -> {}, {}x{}, stride {}, padding {})", in_channels, out_channels,
                       kernel, kernel, params.stride, params.padding);
}

LayerExample Conv2d::example() {
    return {"Conv2d", Shape({2, 2, 5, 5}),
            [](Rng& rng) { return std::make_shared<Conv2d>(2, 3, 3, rng, 1, 1); }};
}

}  // namespace normgrad
