#include "normgrad/layer_registry.hpp"

namespace normgrad {

std::vector<LayerExample>& layer_registry() {
    static std::vector<LayerExample> registry;  // built during static initialisation
    return registry;
}

LayerRegistration::LayerRegistration(LayerExample example) {
    layer_registry().push_back(std::move(example));
}

}  // namespace normgrad
