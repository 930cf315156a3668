// Building a tape (json/tape.h) from JSON text that the storage keeps a copy of: the text and its copy
// (BodyCopy), the rule that makes an object's keys unique (UniqueKeys), and Boost.JSON's parser appending a
// value's nodes to the storage (TapeBuilder), for any value that the reader by hand (json/value_reader.h) leaves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "json/tape.h"

namespace elk::json_tape {

// The text as it is read (a delivery's body) and its copy in the storage (RecordStorage::keep_copy): the same
// bytes at the same places. A string without escapes is a view into the copy; one with escapes is unescaped
// into the copy, in its own place.
struct BodyCopy {
  const char* begin = nullptr;
  const char* end = nullptr;
  char* copy = nullptr;

  [[nodiscard]] char* at(const char* p) const { return copy + (p - begin); }
  [[nodiscard]] bool holds(const char* p) const {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    return a >= reinterpret_cast<std::uintptr_t>(begin) && a < reinterpret_cast<std::uintptr_t>(end);
  }
};

// Makes an object's keys unique as a Boost.JSON object does: when a key occurs more than once, its first place
// keeps the last value and the other members go. Working memory kept from one object to the next.
class UniqueKeys {
 public:
  // The object whose head is nodes[at], its members the last nodes.
  void apply(std::vector<JsonNode>& nodes, std::size_t at);

 private:
  struct Key {
    std::string_view text;
    std::size_t node;   // of the key
    std::size_t place;  // among the members
  };
  static bool by_text_then_place(const Key& a, const Key& b);
  bool duplicates();

  std::vector<Key> keys_, sorted_;
};

// Reads one JSON value with Boost.JSON's parser (basic_parser), with the limits of its DOM parser and nesting at
// most max_depth deep, and appends its nodes to the storage: what Boost.JSON's DOM parse of the value would
// hold (numbers as it reads them; of duplicate keys the first one's place and the last one's value), without
// the tree. The parser is made when first needed, and kept for the next values.
class TapeBuilder {
 public:
  // What it reads is inside `body`, or a string's text is copied into the storage.
  TapeBuilder(const BodyCopy& body, RecordStorage& storage, UniqueKeys& unique_keys, std::size_t max_depth);
  ~TapeBuilder();
  TapeBuilder(const TapeBuilder&) = delete;
  TapeBuilder& operator=(const TapeBuilder&) = delete;

  // The value at p (whitespace before it allowed): past it and the whitespace after it, or nullptr when it is
  // not valid JSON within the limits (then the nodes it appended are the caller's to roll back). What follows
  // is not looked at.
  const char* read(const char* p, const char* end);

 private:
  class Parser;

  const BodyCopy& body_;
  RecordStorage& storage_;
  UniqueKeys& unique_keys_;
  const std::size_t max_depth_;
  std::unique_ptr<Parser> parser_;
};

}  // namespace elk::json_tape
