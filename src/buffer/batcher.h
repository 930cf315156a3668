// Our own batching, by the seed's bounds: a batch is flushed when it holds max_items records or
// max_bytes bytes, or when its oldest record is max_age old. Pure: time is passed in.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

#include "core/time.h"
#include "pipeline/enrich.h"

namespace elk::buffer {

struct Limits {
  std::size_t max_items;
  std::size_t max_bytes;
  std::chrono::milliseconds max_age;
};

struct Batch {
  std::vector<pipeline::Document> documents;
  std::size_t bytes = 0;  // sum of the documents' bytes()
};

class Batcher {
 public:
  // `origin`: this execution environment's id, given to every document with its sequence number.
  explicit Batcher(Limits limits, std::uint64_t origin = 0) : limits_(limits), origin_(origin) {}

  // Takes a document and gives it this environment's origin and next sequence number.
  void add(pipeline::Document document, SteadyTime now);

  // True when a size bound is reached or the oldest record is max_age old.
  [[nodiscard]] bool due(SteadyTime now) const;
  // When the age bound will make a flush due; nullopt when empty.
  [[nodiscard]] std::optional<SteadyTime> due_at() const;

  // Everything held, cut into batches that each keep within max_items and max_bytes (a single
  // document larger than max_bytes travels alone). The batcher is empty afterwards.
  [[nodiscard]] std::vector<Batch> drain();

  [[nodiscard]] std::size_t size() const { return pending_.size(); }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }

 private:
  Limits limits_;
  std::vector<pipeline::Document> pending_;
  std::size_t bytes_ = 0;
  SteadyTime oldest_{};
  std::uint64_t origin_;
  std::uint64_t next_sequence_ = 1;
};

}  // namespace elk::buffer
