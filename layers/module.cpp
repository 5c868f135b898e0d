#include "normgrad/module.hpp"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

#include "normgrad/autograd.hpp"

namespace normgrad {

namespace {
thread_local HookList<const Module&, const Tensor&, const Tensor&> module_hooks;
}

HookHandle add_module_hook(ModuleHook hook) {
    return module_hooks.add(std::move(hook));
}

Tensor Module::operator()(const Tensor& x) {
    autograd::ScopeGuard scope(name_.empty() ? kind() : name_);
    Tensor y = forward(x);
    module_hooks(*this, x, y);
    return y;
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool is_bias_or_norm) {
    t.set_requires_grad(true);
    params_.push_back({name, t, is_bias_or_norm});
    return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
    buffers_.push_back({name, t});
    return t;
}

void Module::register_module(const std::string& name, std::shared_ptr<Module> m) {
    for (const auto& [n, c] : children_)
        if (n == name)
            throw std::invalid_argument(
                fmt::format("{}: a child named '{}' already exists", kind(), name));
    if (m->name().empty()) m->set_name(name);
    children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, std::vector<Parameter>* params,
                     std::vector<NamedTensor>* buffers) const {
    if (params)
        for (const auto& p : params_)
            params->push_back({prefix + p.name, p.tensor, p.is_bias_or_norm});
    if (buffers)
        for (const auto& b : buffers_) buffers->push_back({prefix + b.name, b.tensor});
    for (const auto& [n, child] : children_) child->collect(prefix + n + ".", params, buffers);
}

std::vector<Parameter> Module::parameters() const {
    std::vector<Parameter> out;
    collect("", &out, nullptr);
    return out;
}

std::vector<NamedTensor> Module::buffers() const {
    std::vector<NamedTensor> out;
    collect("", nullptr, &out);
    return out;
}

std::vector<NamedTensor> Module::state() const {
    std::vector<NamedTensor> out;
    for (auto& p : parameters()) out.push_back({p.name, p.tensor});
    for (auto& b : buffers()) out.push_back(std::move(b));
    return out;
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() const {
    for (auto& p : parameters()) p.tensor.zero_grad();
}

namespace {

template <class M, class F>
void visit_from(M& m, const std::string& path, const F& f) {
    f(path, m);
    for (const auto& [name, child] : m.children())
        visit_from<M>(*child, path.empty() ? name : path + "." + name, f);
}

}  // namespace

void Module::visit(const std::function<void(const std::string&, const Module&)>& f) const {
    visit_from<const Module>(*this, "", f);
}

void Module::visit(const std::function<void(const std::string&, Module&)>& f) {
    visit_from<Module>(*this, "", f);
}

BufferSnapshot::BufferSnapshot(Module& model)
    : model_(model), was_training_(model.is_training()), buffers_(model.buffers()) {
    for (const NamedTensor& b : buffers_) saved_.push_back(b.tensor.to_vector());
}

void BufferSnapshot::restore() {
    for (size_t i = 0; i < buffers_.size(); ++i)
        std::memcpy(buffers_[i].tensor.data(), saved_[i].data(), saved_[i].size() * sizeof(float));
    model_.train(was_training_);
}

}  // namespace normgrad
