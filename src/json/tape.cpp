#include "json/tape.h"

#include <algorithm>
#include <boost/json/value.hpp>
#include <cstring>

namespace elk::json_tape {

namespace json = boost::json;

std::optional<double> JsonView::number() const {
  if (node_ == nullptr) return std::nullopt;
  switch (node_->kind) {
    case Kind::double_:
      return node_->number;
    case Kind::int64:
      return static_cast<double>(node_->int64);
    case Kind::uint64:
      return static_cast<double>(node_->uint64);
    default:
      return std::nullopt;
  }
}

JsonView JsonView::find(std::string_view key) const {
  for (const auto& m : members())
    if (m.key == key) return m.value;
  return {};
}

json::value JsonView::to_value() const {
  if (node_ == nullptr) return nullptr;
  switch (node_->kind) {
    case Kind::null:
      return nullptr;
    case Kind::boolean:
      return node_->boolean;
    case Kind::int64:
      return node_->int64;
    case Kind::uint64:
      return node_->uint64;
    case Kind::double_:
      return node_->number;
    case Kind::string:
      return json::string(string());
    case Kind::array: {
      json::array a;
      a.reserve(node_->size);
      for (const auto e : elements()) a.push_back(e.to_value());
      return a;
    }
    case Kind::object: {
      json::object o;
      o.reserve(node_->size);
      for (const auto& m : members()) o.emplace(m.key, m.value.to_value());
      return o;
    }
  }
  return nullptr;
}

RecordStorage::RecordStorage(std::size_t text_bytes) {
  if (text_bytes != 0) add_chunk(text_bytes);
}

void RecordStorage::add_chunk(std::size_t n) {
  const std::size_t size = std::max<std::size_t>(n, 4096);
  chunks_.push_back(std::make_unique_for_overwrite<char[]>(size));
  next_ = chunks_.back().get();
  end_ = next_ + size;
}

char* RecordStorage::keep_copy(std::string_view body) {
  // A chunk of its own, before the one texts are allocated from (which stays the last).
  auto copy = std::make_unique_for_overwrite<char[]>(std::max<std::size_t>(body.size(), 1));
  if (!body.empty()) std::memcpy(copy.get(), body.data(), body.size());
  char* p = copy.get();
  chunks_.insert(chunks_.empty() ? chunks_.end() : chunks_.end() - 1, std::move(copy));
  return p;
}

std::string_view RecordStorage::copy(std::string_view s) {
  if (s.empty()) return "";  // (never a null pointer: Boost.JSON and memcpy take the bytes of empty texts too)
  char* p = allocate(s.size());
  std::memcpy(p, s.data(), s.size());
  return {p, s.size()};
}

void RecordStorage::append(const json::value& v) {
  const std::size_t at = nodes.size();
  nodes.emplace_back();
  JsonNode* n = &nodes.back();
  switch (v.kind()) {
    case json::kind::null:
      n->kind = JsonNode::Kind::null;
      break;
    case json::kind::bool_:
      n->kind = JsonNode::Kind::boolean, n->boolean = v.get_bool();
      break;
    case json::kind::int64:
      n->kind = JsonNode::Kind::int64, n->int64 = v.get_int64();
      break;
    case json::kind::uint64:
      n->kind = JsonNode::Kind::uint64, n->uint64 = v.get_uint64();
      break;
    case json::kind::double_:
      n->kind = JsonNode::Kind::double_, n->number = v.get_double();
      break;
    case json::kind::string: {
      const auto text = copy(v.get_string());
      n->kind = JsonNode::Kind::string, n->text = text.data(), n->size = text.size();
      break;
    }
    case json::kind::array:
      n->kind = JsonNode::Kind::array, n->size = v.get_array().size();
      for (const auto& e : v.get_array()) append(e);
      break;
    case json::kind::object:
      n->kind = JsonNode::Kind::object, n->size = v.get_object().size();
      for (const auto& kv : v.get_object()) {
        const auto key = copy(kv.key());
        JsonNode k;
        k.kind = JsonNode::Kind::string, k.text = key.data(), k.size = key.size();
        nodes.push_back(k);
        append(kv.value());
      }
      break;
  }
  nodes[at].extent = static_cast<std::uint32_t>(nodes.size() - at);
}

}  // namespace elk::json_tape
