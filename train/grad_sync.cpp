// The gradients' mean over the ranks, in buckets started during backward (grad_sync.hpp).
#include "normgrad/train/grad_sync.hpp"

#include <algorithm>
#include <stdexcept>

#include "normgrad/autograd.hpp"

namespace normgrad::train {

GradSync::GradSync(std::vector<Parameter> params, std::shared_ptr<const Communicator> comm,
                   size_t bucket_bytes)
    : params_(std::move(params)), comm_(std::move(comm)) {
    if (!comm_) throw std::invalid_argument("GradSync: no communicator");
    const size_t n = params_.size();
    bucket_of_.resize(n);
    uses_.assign(n, 0);
    done_.assign(n, false);
    // Buckets in the reverse of the model's order: the last layers' gradients come first.
    size_t bytes = bucket_bytes;  // of the bucket being filled
    for (size_t k = n; k-- > 0;) {
        const size_t b = size_t(params_[k].tensor.numel()) * sizeof(float);
        if (buckets_.empty() || bytes + b > bucket_bytes) {
            buckets_.emplace_back();
            bytes = 0;
        }
        buckets_.back().params.push_back(k);
        bytes += b;
        bucket_of_[k] = buckets_.size() - 1;
        index_[&params_[k].tensor.impl()] = k;
    }
    for (Bucket& bucket : buckets_) {
        size_t size = bucket.params.size();  // the flags
        for (size_t k : bucket.params) size += size_t(params_[k].tensor.numel());
        bucket.buffer.assign(size, 0.f);
    }
    forward_hook_ = autograd::add_forward_hook([this](const autograd::TapeRecord& r) {
        for (const Tensor& t : r.inputs)
            if (t.defined())
                if (const auto it = index_.find(&t.impl()); it != index_.end()) ++uses_[it->second];
    });
    backward_hook_ = autograd::add_backward_hook([this](const autograd::TapeRecord& r) {
        in_backward_ = true;
        for (const Tensor& t : r.inputs) {
            if (!t.defined()) continue;
            const auto it = index_.find(&t.impl());
            if (it == index_.end()) continue;
            const size_t k = it->second;
            if (uses_[k] > 0 && --uses_[k] == 0) ready(k);
        }
    });
    begin_step();
}

void GradSync::begin_step() {
    std::fill(uses_.begin(), uses_.end(), size_t(0));
    std::fill(done_.begin(), done_.end(), false);
    for (Bucket& b : buckets_) {
        b.waiting = b.params.size();
        b.sum.reset();
    }
    next_ = 0;
    started_early_ = 0;
    in_backward_ = false;
}

void GradSync::ready(size_t k) {
    if (done_[k]) return;
    done_[k] = true;
    --buckets_[bucket_of_[k]].waiting;
    start_ready_buckets();
}

void GradSync::start_ready_buckets() {
    while (next_ < buckets_.size() && buckets_[next_].waiting == 0) {
        start(buckets_[next_]);
        if (in_backward_) ++started_early_;
        ++next_;
    }
}

void GradSync::start(Bucket& b) {
    float* out = b.buffer.data();
    float* flags = out + (b.buffer.size() - b.params.size());
    for (size_t i = 0; i < b.params.size(); ++i) {
        const Tensor& t = params_[b.params[i]].tensor;
        const auto n = size_t(t.numel());
        if (const float* g = t.grad()) {
            std::copy(g, g + n, out);
            flags[i] = 1.f;
        } else {
            std::fill(out, out + n, 0.f);
            flags[i] = 0.f;
        }
        out += n;
    }
    b.sum = comm_->start_all_reduce_sum(b.buffer);
}

void GradSync::finish() {
    in_backward_ = false;
    for (Bucket& b : buckets_) b.waiting = 0;  // whatever backward did not complete
    start_ready_buckets();
    const auto ranks = static_cast<float>(comm_->size());
    for (Bucket& b : buckets_) {
        b.sum->wait();
        const float* in = b.buffer.data();
        const float* flags = in + (b.buffer.size() - b.params.size());
        for (size_t i = 0; i < b.params.size(); ++i) {
            const Tensor& t = params_[b.params[i]].tensor;
            const auto n = size_t(t.numel());
            if (flags[i] > 0.f) {
                float* g = t.mutable_grad();
                for (size_t j = 0; j < n; ++j) g[j] = in[j] / ranks;
            } else {
                t.release_grad();
            }
            in += n;
        }
        b.sum.reset();
    }
}

}  // namespace normgrad::train
