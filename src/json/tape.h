// A telemetry record's JSON value as it was read: the nodes of its tree in document order, flat (a "tape"), in
// storage that the events of one delivery share. Reading a record builds no tree: no hash table per object,
// no allocation or reference count per value; walking one is a walk along an array.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace elk::json_tape {

// One node of a value: a scalar, a string, or the head of an array or object followed by its contents (an
// object's members are a string node, the key, then the value's nodes). An object's keys are unique, as in a
// Boost.JSON object: of duplicate keys the first one's place and the last one's value.
struct JsonNode {
  enum class Kind : std::uint8_t { null, boolean, int64, uint64, double_, string, array, object };
  Kind kind = Kind::null;
  std::uint32_t extent = 1;  // nodes of the value: itself and its contents
  std::size_t size = 0;      // string: bytes; array: elements; object: members
  union {
    bool boolean;
    std::int64_t int64;
    std::uint64_t uint64;
    double number;
    const char* text = nullptr;  // string: its bytes (UTF-8, unescaped)
  };
};

class JsonView;

// An object's member: its key and its value.
struct JsonMember;

// A JSON value on a tape, or nothing (a member that is not there). Cheap to copy: a pointer.
class JsonView {
 public:
  using Kind = JsonNode::Kind;

  JsonView() = default;
  explicit JsonView(const JsonNode* node) : node_(node) {}

  // Whether there is a value (null is one).
  explicit operator bool() const { return node_ != nullptr; }
  [[nodiscard]] bool is(Kind k) const { return node_ != nullptr && node_->kind == k; }
  [[nodiscard]] bool is_null() const { return is(Kind::null); }
  [[nodiscard]] bool is_string() const { return is(Kind::string); }
  [[nodiscard]] bool is_object() const { return is(Kind::object); }
  [[nodiscard]] bool is_array() const { return is(Kind::array); }
  [[nodiscard]] const JsonNode* node() const { return node_; }

  // The text of a string; "" for anything else.
  [[nodiscard]] std::string_view string() const {
    return is_string() ? std::string_view(node_->text, node_->size) : std::string_view();
  }
  // A number as a double (as json::value::to_number<double> gives it); nullopt for anything else.
  [[nodiscard]] std::optional<double> number() const;
  // Members of an object, elements of an array; 0 for anything else.
  [[nodiscard]] std::size_t size() const { return is_object() || is_array() ? node_->size : 0; }

  // The member of an object with that key; nothing when it has none (or this is not an object).
  [[nodiscard]] JsonView find(std::string_view key) const;

  // The members of an object in order (nothing for anything else), and the elements of an array.
  template <bool kMembers>
  class Children;
  using Members = Children<true>;
  using Elements = Children<false>;
  [[nodiscard]] Members members() const;
  [[nodiscard]] Elements elements() const;

  // The value as a Boost.JSON value (for tests and the rare paths that want one); null for nothing.
  [[nodiscard]] boost::json::value to_value() const;

 private:
  const JsonNode* node_ = nullptr;
};

struct JsonMember {
  std::string_view key;
  JsonView value;
};

// What is inside an array or object head: its elements (JsonView) or members (JsonMember, the key's node then
// the value's), one after the other along the tape.
template <bool kMembers>
class JsonView::Children {
 public:
  class iterator {
   public:
    iterator(const JsonNode* at, std::size_t left) : at_(at), left_(left) {}
    auto operator*() const {
      if constexpr (kMembers)
        return JsonMember{std::string_view(at_->text, at_->size), JsonView(at_ + 1)};
      else
        return JsonView(at_);
    }
    iterator& operator++() {
      at_ += kMembers ? 1 + at_[1].extent : at_->extent;
      --left_;
      return *this;
    }
    bool operator==(const iterator& other) const { return left_ == other.left_; }

   private:
    const JsonNode* at_;
    std::size_t left_;
  };
  explicit Children(const JsonNode* head) : head_(head) {}
  [[nodiscard]] iterator begin() const { return head_ ? iterator(head_ + 1, head_->size) : end(); }
  [[nodiscard]] iterator end() const { return {nullptr, 0}; }

 private:
  const JsonNode* head_;  // nullptr: nothing inside
};

inline JsonView::Members JsonView::members() const {
  return Members(is_object() ? node_ : nullptr);
}
inline JsonView::Elements JsonView::elements() const {
  return Elements(is_array() ? node_ : nullptr);
}

// What the events of one delivery point into: a copy of its body (the texts that had no escapes are views into
// it; those that had are unescaped in place, being no longer than their escaped form), other texts, and the
// records' nodes. Filled while the delivery is read, then only read; freed with the last event.
class RecordStorage {
 public:
  // Room for `text_bytes` bytes of text at first (more is taken as needed).
  explicit RecordStorage(std::size_t text_bytes = 0);
  RecordStorage(const RecordStorage&) = delete;
  RecordStorage& operator=(const RecordStorage&) = delete;

  // A copy of `body` that the storage keeps, where it stays.
  char* keep_copy(std::string_view body);

  // n bytes of text, to be filled by the caller; they stay where they are.
  char* allocate(std::size_t n) {
    if (static_cast<std::size_t>(end_ - next_) < n) [[unlikely]]
      add_chunk(n);
    char* p = next_;
    next_ += n;
    return p;
  }
  std::string_view copy(std::string_view s);

  // Where the storage is, to go back to it (rollback) when what was added since is not wanted: its nodes, and
  // its texts when they are still in the same memory.
  struct Mark {
    std::size_t chunks, nodes;
    char* next;
  };
  [[nodiscard]] Mark mark() const { return {chunks_.size(), nodes.size(), next_}; }
  void rollback(const Mark& m) {
    nodes.resize(m.nodes);
    if (chunks_.size() == m.chunks) next_ = m.next;
  }

  // The nodes of every record, one after the other.
  std::vector<JsonNode> nodes;
  // Memory that texts of the nodes point into, kept as long as the storage (a source's parsed input).
  std::shared_ptr<const void> keep_alive;
  // Appends the nodes of `v` (a value of Boost.JSON's DOM; its objects' keys are unique already).
  void append(const boost::json::value& v);

 private:
  void add_chunk(std::size_t n);

  std::vector<std::unique_ptr<char[]>> chunks_;
  char* next_ = nullptr;
  char* end_ = nullptr;
};

}  // namespace elk::json_tape
