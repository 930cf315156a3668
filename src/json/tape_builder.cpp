#include "json/tape_builder.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace elk::json_tape {

namespace json = boost::json;

namespace {

// Whether two keys might be the same: false when no two have the same length, first and last byte (as far
// as a set of 256 of their hashes tells), which is the usual object.
bool maybe_duplicates(const std::vector<JsonNode>& nodes, std::size_t at) {
  std::uint64_t seen[4] = {};
  for (std::size_t k = at + 1; k < nodes.size(); k += 1 + nodes[k + 1].extent) {
    const JsonNode& key = nodes[k];
    std::uint32_t h = static_cast<std::uint32_t>(key.size);
    if (key.size != 0)
      h += 0x9E3779B9u * static_cast<unsigned char>(key.text[0]) +
           0x85EBCA6Bu * static_cast<unsigned char>(key.text[key.size - 1]);
    h = (h * 0x9E3779B1u) >> 24;
    std::uint64_t& word = seen[h >> 6];
    const std::uint64_t bit = std::uint64_t{1} << (h & 63);
    if (word & bit) return true;
    word |= bit;
  }
  return false;
}

}  // namespace

bool UniqueKeys::by_text_then_place(const Key& a, const Key& b) {
  return a.text != b.text ? a.text < b.text : a.place < b.place;
}

// Whether two of keys_ are the same: compared pairwise when there are few (the usual record), else sorted.
bool UniqueKeys::duplicates() {
  if (keys_.size() <= 16) {
    for (std::size_t i = 1; i < keys_.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (keys_[i].text.size() == keys_[j].text.size() && keys_[i].text == keys_[j].text) return true;
    return false;
  }
  sorted_ = keys_;
  std::sort(sorted_.begin(), sorted_.end(), by_text_then_place);
  for (std::size_t i = 1; i < sorted_.size(); ++i)
    if (sorted_[i].text == sorted_[i - 1].text) return true;
  return false;
}

void UniqueKeys::apply(std::vector<JsonNode>& nodes, std::size_t at) {
  if (!maybe_duplicates(nodes, at)) return;
  keys_.clear();
  for (std::size_t k = at + 1, i = 0; k < nodes.size(); k += 1 + nodes[k + 1].extent, ++i)
    keys_.push_back({std::string_view(nodes[k].text, nodes[k].size), k, i});
  if (!duplicates()) return;
  // Sorted by key, then place: each key's run starts with its first member and ends with its last.
  sorted_ = keys_;
  std::sort(sorted_.begin(), sorted_.end(), by_text_then_place);
  std::vector<std::size_t> value_from(keys_.size(), 0);  // the node of a kept member's value; 0: not kept
  for (std::size_t i = 0; i < sorted_.size();) {
    std::size_t j = i;
    while (j + 1 < sorted_.size() && sorted_[j + 1].text == sorted_[i].text) ++j;
    value_from[sorted_[i].place] = sorted_[j].node + 1;
    i = j + 1;
  }
  std::vector<JsonNode> rebuilt;
  std::size_t members = 0;
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    const auto v = value_from[i];
    if (v == 0) continue;
    ++members;
    rebuilt.push_back(nodes[keys_[i].node]);
    rebuilt.insert(rebuilt.end(), nodes.begin() + static_cast<std::ptrdiff_t>(v),
                   nodes.begin() + static_cast<std::ptrdiff_t>(v + nodes[v].extent));
  }
  nodes.resize(at + 1);
  nodes.insert(nodes.end(), rebuilt.begin(), rebuilt.end());
  nodes[at].size = members;
  nodes[at].extent = static_cast<std::uint32_t>(nodes.size() - at);
}

namespace {

// The basic_parser handler: the limits of the DOM parser (boost/json/detail/handler.hpp), as json/validate.cpp's.
class Handler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  Handler(const BodyCopy& body, RecordStorage& storage, UniqueKeys& unique_keys, std::size_t max_depth)
      : body_(&body), storage_(&storage), unique_keys_(&unique_keys), open_(max_depth + 1) {}

  bool on_document_begin(json::error_code&) {
    depth_ = 0;
    part_.clear();
    return true;
  }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return open(JsonNode::Kind::array); }
  bool on_array_end(std::size_t n, json::error_code&) {
    close(n);
    return true;
  }
  bool on_object_begin(json::error_code&) { return open(JsonNode::Kind::object); }
  bool on_object_end(std::size_t n, json::error_code&) {
    const auto at = close(n);
    if (n > 1) unique_keys_->apply(storage_->nodes, at);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    string(s);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t n, json::error_code& ec) { return on_string_part(s, n, ec); }
  bool on_key(json::string_view s, std::size_t n, json::error_code& ec) { return on_string(s, n, ec); }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t v, json::string_view, json::error_code&) {
    node(JsonNode::Kind::int64).int64 = v;
    return true;
  }
  bool on_uint64(std::uint64_t v, json::string_view, json::error_code&) {
    node(JsonNode::Kind::uint64).uint64 = v;
    return true;
  }
  bool on_double(double v, json::string_view, json::error_code&) {
    node(JsonNode::Kind::double_).number = v;
    return true;
  }
  bool on_bool(bool v, json::error_code&) {
    node(JsonNode::Kind::boolean).boolean = v;
    return true;
  }
  bool on_null(json::error_code&) {
    node(JsonNode::Kind::null);
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  JsonNode& node(JsonNode::Kind kind) {
    auto& n = storage_->nodes.emplace_back();
    n.kind = kind;
    return n;
  }
  bool open(JsonNode::Kind kind) {
    // The parser's depth limit (max_depth) keeps a value inside open_.
    open_[depth_++] = storage_->nodes.size();
    node(kind);
    return true;
  }
  std::size_t close(std::size_t n) {
    const auto at = open_[--depth_];
    auto& head = storage_->nodes[at];
    head.size = n;
    head.extent = static_cast<std::uint32_t>(storage_->nodes.size() - at);
    return at;
  }
  void string(json::string_view s) {
    std::string_view text(s.data(), s.size());
    if (part_.empty() && body_->holds(text.data())) {
      // Read whole from the body, unescaped: the same bytes are in the copy.
      text = std::string_view(body_->at(text.data()), text.size());
    } else {
      if (!part_.empty()) {
        part_.append(text);
        text = part_;
      }
      text = storage_->copy(text);
      part_.clear();
    }
    auto& n = node(JsonNode::Kind::string);
    n.text = text.data();
    n.size = text.size();
  }

  const BodyCopy* body_;
  RecordStorage* storage_;
  UniqueKeys* unique_keys_;
  std::vector<std::size_t> open_;  // the heads of the open arrays and objects
  std::size_t depth_ = 0;
  std::string part_;  // a string (or key) read in parts: it had escapes
};

}  // namespace

class TapeBuilder::Parser : public json::basic_parser<Handler> {
 public:
  using json::basic_parser<Handler>::basic_parser;
};

TapeBuilder::TapeBuilder(const BodyCopy& body, RecordStorage& storage, UniqueKeys& unique_keys, std::size_t max_depth)
    : body_(body), storage_(storage), unique_keys_(unique_keys), max_depth_(max_depth) {}

TapeBuilder::~TapeBuilder() = default;

const char* TapeBuilder::read(const char* p, const char* end) {
  if (!parser_) {
    json::parse_options options;
    options.max_depth = max_depth_;
    parser_ = std::make_unique<Parser>(options, body_, storage_, unique_keys_, max_depth_);
  }
  parser_->reset();
  json::error_code ec;
  const auto n = parser_->write_some(false, p, static_cast<std::size_t>(end - p), ec);
  if (ec) return nullptr;
  return p + n;
}

}  // namespace elk::json_tape
