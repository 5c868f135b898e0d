// The built-in layers: this header includes them all, and the operations (ops.hpp) as well.
// Each layer has its own header, normgrad/layers/<layer>.hpp, so that code including only the
// layers it uses is rebuilt only when one of those changes; each is implemented under layers/,
// with forward() written in tape operations only. Every layer carries one small example of itself
// (`example()`), which the generic gradient test checks (layer_registry.hpp).
#pragma once

#include "normgrad/layers/activations.hpp"  // ReLU, Sigmoid, Tanh
#include "normgrad/layers/avg_pool2d.hpp"   // AvgPool2d, GlobalAvgPool2d
#include "normgrad/layers/batch_norm.hpp"   // BatchNorm1d, BatchNorm2d, BatchNormOptions
#include "normgrad/layers/conv2d.hpp"       // Conv2d
#include "normgrad/layers/dense.hpp"        // Dense
#include "normgrad/layers/dropout.hpp"      // Dropout
#include "normgrad/layers/flatten.hpp"      // Flatten
#include "normgrad/layers/group_norm.hpp"   // GroupNorm
#include "normgrad/layers/init.hpp"         // Init
#include "normgrad/layers/layer_norm.hpp"   // LayerNorm
#include "normgrad/layers/max_pool2d.hpp"   // MaxPool2d
#include "normgrad/layers/residual.hpp"     // Residual
#include "normgrad/layers/rms_norm.hpp"     // RMSNorm
#include "normgrad/layers/sequential.hpp"   // Sequential
#include "normgrad/ops.hpp"
