#include "buffer/batcher.h"

namespace elk::buffer {

void Batcher::add(pipeline::Document document, SteadyTime now) {
  if (pending_.empty()) oldest_ = now;
  document.sequence = next_sequence_++;
  document.origin = origin_;
  bytes_ += document.bytes();
  pending_.push_back(std::move(document));
}

bool Batcher::due(SteadyTime now) const {
  if (pending_.empty()) return false;
  return pending_.size() >= limits_.max_items || bytes_ >= limits_.max_bytes || now - oldest_ >= limits_.max_age;
}

std::optional<SteadyTime> Batcher::due_at() const {
  if (pending_.empty()) return std::nullopt;
  return oldest_ + limits_.max_age;
}

std::vector<Batch> Batcher::drain() {
  std::vector<Batch> out;
  for (auto& doc : pending_) {
    const auto size = doc.bytes();
    if (out.empty() || out.back().documents.size() >= limits_.max_items ||
        (!out.back().documents.empty() && out.back().bytes + size > limits_.max_bytes))
      out.emplace_back();
    out.back().bytes += size;
    out.back().documents.push_back(std::move(doc));
  }
  pending_.clear();
  bytes_ = 0;
  return out;
}

}  // namespace elk::buffer
