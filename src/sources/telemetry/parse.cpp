#include "sources/telemetry/parse.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "core/time.h"
#include "core/time_text.h"
#include "json/string_scan.h"
#include "json/tape.h"
#include "json/tape_builder.h"
#include "json/text.h"
#include "json/validate.h"
#include "json/value_reader.h"
#include "sources/telemetry/salvage.h"

namespace elk::telemetry {

namespace json = boost::json;
using json_tape::BodyCopy;
using json_tape::JsonNode;
using json_tape::JsonView;
using json_tape::RecordStorage;
using json_tape::string_node;
using json_tape::TapeBuilder;
using json_tape::UniqueKeys;
using json_tape::ValueReader;
using json_text::find_special;
using json_text::is_ws;
using json_text::scan_string;
using json_text::unescape;

namespace {

// Boost.JSON's default nesting limit, counted from the body's array: an item's own values start 2 deep.
constexpr std::size_t kMaxDepth = 32;
constexpr std::size_t kItemDepth = kMaxDepth - 1;  // an item of the body's array
static_assert(kItemDepth == detail::kMaxItemDepth);
constexpr std::size_t kMemberDepth = kMaxDepth - 2;  // a value inside an item's object

enum class Key { time, type, record, other };

Key key_of(std::string_view k) {
  if (k == "time") return Key::time;
  if (k == "type") return Key::type;
  if (k == "record") return Key::record;
  return Key::other;
}

// Reads a body of the shape Lambda sends, [{"time": "...", "type": "...", "record": ...}, ...], in one pass.
// Any departure from valid JSON makes it give up (read() is false); it never guesses.
class Reader {
 public:
  Reader(std::string_view body, EpochMs received)
      : begin_(body.data()),
        p_(body.data()),
        end_(body.data() + body.size()),
        received_(received),
        storage_(std::make_shared<RecordStorage>()),
        body_{body.data(), body.data() + body.size(), storage_->keep_copy(body)},
        plain_(body_, *storage_, unique_keys_),
        tape_builder_(body_, *storage_, unique_keys_, kMemberDepth) {}

  bool read(Delivery& out) {
    ws();
    if (p_ == end_ || *p_ != '[') return false;
    ++p_;
    ws();
    // Room at once for what a body of this size usually holds (a record is rarely under 128 bytes with its
    // envelope; 64 bytes of body per node): the vectors grow by copying themselves, several times for a large body.
    const auto bytes = static_cast<std::size_t>(end_ - p_);
    out.events.reserve(bytes / 128 + 4);
    record_node_.reserve(bytes / 128 + 4);
    storage_->nodes.reserve(bytes / 64 + 16);
    if (p_ != end_ && *p_ == ']') {
      ++p_;
    } else {
      for (;;) {
        if (p_ == end_) return false;
        if (*p_ == '{') {
          if (!item(out)) return false;
        } else {
          if (!skip_value(kItemDepth)) return false;
          ++out.skipped;
        }
        ws();
        if (p_ == end_) return false;
        if (*p_ == ']') {
          ++p_;
          break;
        }
        if (*p_ != ',') return false;
        ++p_;
        ws();
      }
    }
    ws();
    if (p_ != end_) return false;
    // The nodes are where they stay: the records can point to them.
    const JsonNode* nodes = storage_->nodes.data();
    for (std::size_t i = 0; i < out.events.size(); ++i) {
      out.events[i].body = JsonView(nodes + record_node_[i]);
      out.events[i].storage = storage_;
    }
    return true;
  }

 private:
  void ws() {
    while (p_ != end_ && static_cast<unsigned char>(*p_) <= ' ' && is_ws(*p_)) ++p_;
  }

  // Room for one more event. The first guess (from the body's size) is small; past it, the number of
  // events is extrapolated from the bytes read so far, so that the vector grows about once.
  void make_room(std::vector<pipeline::Record>& events) {
    if (events.size() < events.capacity()) return;
    const auto read = static_cast<std::size_t>(p_ - begin_) + 1;
    const auto total = static_cast<std::size_t>(end_ - begin_);
    events.reserve(std::max(events.size() * 2, events.size() * total / read + events.size() / 8 + 16));
  }

  // A JSON string at p_ that we keep: its text, unescaped into `buffer` when it has escapes.
  bool string(std::string& buffer, std::string_view& text) {
    const auto s = scan_string(p_, end_);
    if (!s.next) return false;
    if (s.escaped) {
      buffer.resize(s.raw.size());
      buffer.resize(unescape(s.raw, buffer.data()));
      text = buffer;
    } else {
      text = s.raw;
    }
    p_ = s.next;
    return true;
  }

  // The key at p_ (its opening quote), and p_ past it. The keys Lambda sends are matched as they are.
  bool key(Key& k) {
    const auto left = end_ - p_;
    if (left >= 6 && std::memcmp(p_, "\"type\"", 6) == 0) return p_ += 6, k = Key::type, true;
    if (left >= 6 && std::memcmp(p_, "\"time\"", 6) == 0) return p_ += 6, k = Key::time, true;
    if (left >= 8 && std::memcmp(p_, "\"record\"", 8) == 0) return p_ += 8, k = Key::record, true;
    std::string_view text;
    if (!string(key_, text)) return false;
    k = key_of(text);
    return true;
  }

  // Any JSON value at p_, validated and passed over.
  bool skip_value(std::size_t max_depth) {
    if (*p_ == '"') {
      p_ = scan_string(p_, end_).next;
      return p_ != nullptr;
    }
    const char* next = json_text::skip_value(p_, end_, max_depth);
    if (!next) return false;
    p_ = next;
    return true;
  }

  // A record that is not a string: read by hand when it is of the usual forms, else by Boost.JSON's parser
  // (on this value only); its nodes go into the storage.
  bool record_value() {
    const auto mark = storage_->mark();
    if (const char* next = plain_.read(p_, end_)) {
      p_ = next;
      return true;
    }
    storage_->rollback(mark);
    const char* next = tape_builder_.read(p_, end_);
    if (!next) return false;
    p_ = next;
    return true;
  }

  // One {...} item of the array, p_ at its '{'. Of duplicate keys the last counts, as in a Boost.JSON object.
  bool item(Delivery& out) {
    std::string_view type, time;
    bool type_is_string = false, time_is_string = false;
    bool time_read = false;  // time_ms holds `time`, read at once (Lambda's own form)
    EpochMs time_ms;
    std::size_t record = npos;  // the record's node; none yet
    // Lambda's own shape is read at once, up to where the loop below would be after its three members.
    const Shape shape = lambda_shape(type, time, time_ms, record);
    if (shape == Shape::invalid) return false;
    bool members_read = shape == Shape::read;
    if (members_read) {
      type_is_string = time_is_string = time_read = true;
    } else {
      ++p_;
      ws();
      if (p_ != end_ && *p_ == '}') {
        ++p_;
        ++out.skipped;
        return true;
      }
    }
    for (;;) {
      if (members_read) {
        members_read = false;
      } else if (!member(type, time, time_ms, record, type_is_string, time_is_string, time_read)) {
        return false;
      }
      ws();
      if (p_ == end_) return false;
      if (*p_ == '}') {
        ++p_;
        break;
      }
      if (*p_ != ',') return false;
      ++p_;
      ws();
    }
    if (!type_is_string) {
      ++out.skipped;
      return true;
    }
    if (!time_read && time_is_string) {
      if (const auto parsed = parse_iso8601(time)) time_read = true, time_ms = *parsed;
    }
    if (record == npos) {  // a missing record is null
      record = storage_->nodes.size();
      storage_->nodes.emplace_back();
    }
    make_room(out.events);
    pipeline::Record& event = out.events.emplace_back();
    event.type_name = keep(type);
    event.type = pipeline::Record::type_of(event.type_name);
    if (time_read) {
      event.time = keep(time);
      event.time_ms = time_ms;
    } else {
      if (received_text_.empty()) received_text_ = storage_->copy(format_iso8601_ms(received_));
      event.time = received_text_;
      event.time_ms = received_;
    }
    record_node_.push_back(record);
    return true;
  }

  // One "key": value member of an item, p_ at its key.
  bool member(std::string_view& type, std::string_view& time, EpochMs& time_ms, std::size_t& record,
              bool& type_is_string, bool& time_is_string, bool& time_read) {
    if (p_ == end_ || *p_ != '"') return false;
    Key k;
    if (!key(k)) return false;
    ws();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    ws();
    if (p_ == end_) return false;
    const bool is_string = *p_ == '"';
    switch (k) {
      case Key::type:
        if (!(is_string ? string(type_, type) : skip_value(kMemberDepth))) return false;
        type_is_string = is_string;
        break;
      case Key::time:
        time_read = false;
        if (is_string && end_ - p_ >= 26 && p_[25] == '"') [[likely]]
          time_read = time_reader_.read(p_ + 1, time_ms);
        if (time_read) [[likely]] {
          time = std::string_view(p_ + 1, 24);
          p_ += 26;
        } else if (!(is_string ? string(time_, time) : skip_value(kMemberDepth))) {
          return false;
        }
        time_is_string = is_string;
        break;
      case Key::record:
        // A later record replaces an earlier one (whose nodes stay unused).
        record = storage_->nodes.size();
        if (is_string) {
          p_ = string_node(p_, body_, *storage_);
          if (!p_) return false;
        } else if (!record_value()) {
          return false;
        }
        break;
      case Key::other:
        if (!skip_value(kMemberDepth)) return false;
        break;
    }
    return true;
  }

  enum class Shape { other, read, invalid };

  // The start of an item (p_ at its '{') in Lambda's own shape, {"time":"2024-05-02T11:00:00.102Z","type":
  // "<plain text>","record":<value>: its three members as member() reads them, p_ past the record (read).
  // Anything else leaves p_ where it is (other); a record that is not valid JSON is invalid.
  Shape lambda_shape(std::string_view& type, std::string_view& time, EpochMs& time_ms, std::size_t& record) {
    constexpr std::string_view open = R"({"time":")", between = R"(","type":")", before_record = R"(","record":)";
    constexpr std::size_t type_at = open.size() + 24 + between.size();
    if (static_cast<std::size_t>(end_ - p_) < type_at || std::memcmp(p_, open.data(), open.size()) != 0 ||
        std::memcmp(p_ + open.size() + 24, between.data(), between.size()) != 0)
      return Shape::other;
    const char* const type_text = p_ + type_at;
    const char* const quote = find_special(type_text, end_);
    if (static_cast<std::size_t>(end_ - quote) < before_record.size() ||
        std::memcmp(quote, before_record.data(), before_record.size()) != 0 ||
        !time_reader_.read(p_ + open.size(), time_ms))
      return Shape::other;
    time = std::string_view(p_ + open.size(), 24);
    type = std::string_view(type_text, static_cast<std::size_t>(quote - type_text));
    p_ = quote + before_record.size();
    ws();
    if (p_ == end_) return Shape::invalid;
    record = storage_->nodes.size();
    if (*p_ == '"') {
      p_ = string_node(p_, body_, *storage_);
      return p_ ? Shape::read : Shape::invalid;
    }
    return record_value() ? Shape::read : Shape::invalid;
  }

  // A text read from the body (a view into it, or into a buffer when it had escapes), kept in the storage.
  std::string_view keep(std::string_view text) {
    if (body_.holds(text.data())) return {body_.at(text.data()), text.size()};
    return storage_->copy(text);
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  const char* const begin_;
  const char* p_;
  const char* const end_;
  const EpochMs received_;
  std::shared_ptr<RecordStorage> storage_;  // one per delivery: the events' texts and records
  const BodyCopy body_;                     // the body, and its copy in the storage
  std::string_view received_text_;          // `received` as ISO 8601 (in the storage), once needed
  LambdaTimeReader time_reader_;
  std::vector<std::size_t> record_node_;  // each event's record: its first node
  std::string key_, type_, time_;         // unescaped text of strings that had escapes
  UniqueKeys unique_keys_;
  ValueReader plain_;         // for the records that are not strings
  TapeBuilder tape_builder_;  // for those that ValueReader leaves
};

}  // namespace

namespace detail {

bool valid_item(std::string_view text) {
  return json_text::valid_value(text, kItemDepth);
}

std::optional<Delivery> read_batch_streaming(std::string_view body, EpochMs received) {
  Delivery out;
  Reader reader(body, received);
  if (!reader.read(out)) return std::nullopt;
  return out;
}

Result<Delivery> parse_batch_dom(std::string_view body, EpochMs received) {
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec) return fail("telemetry body is not JSON (" + ec.message() + ")");
  if (!doc.is_array()) return fail("telemetry body is JSON but not an array");

  Delivery out;
  auto storage = std::make_shared<RecordStorage>(body.size());
  std::string_view received_text;
  std::vector<std::size_t> record_node;
  const auto& items = doc.as_array();
  out.events.reserve(items.size());
  for (const auto& item : items) {
    const auto* obj = item.if_object();
    const auto* type = obj ? obj->if_contains("type") : nullptr;
    if (type == nullptr || !type->is_string()) {
      ++out.skipped;
      continue;
    }
    pipeline::Record& event = out.events.emplace_back();
    event.type_name = storage->copy(type->get_string());
    event.type = pipeline::Record::type_of(event.type_name);
    std::string_view time;
    if (const auto* t = obj->if_contains("time"); t && t->is_string()) time = t->get_string();
    if (const auto parsed = parse_iso8601(time)) {
      event.time = storage->copy(time);
      event.time_ms = *parsed;
    } else {
      if (received_text.empty()) received_text = storage->copy(format_iso8601_ms(received));
      event.time = received_text;
      event.time_ms = received;
    }
    record_node.push_back(storage->nodes.size());
    const auto* r = obj->if_contains("record");
    storage->append(r ? *r : json::value(nullptr));
  }
  for (std::size_t i = 0; i < out.events.size(); ++i) {
    out.events[i].body = JsonView(storage->nodes.data() + record_node[i]);
    out.events[i].storage = storage;
  }
  return out;
}

}  // namespace detail

Result<Delivery> parse_batch(std::string_view body, EpochMs received) {
  if (auto batch = detail::read_batch_streaming(body, received)) return std::move(*batch);
  // Not a body the streaming reader takes. Not an array at all: Boost.JSON's DOM parse says what is wrong.
  // Else its items one by one, and the good (or repaired) ones read as a body of their own.
  auto salvaged = detail::salvage_items(body);
  if (!salvaged) return detail::parse_batch_dom(body, received);
  auto batch = detail::read_batch_streaming(salvaged->body, received);
  if (!batch) {
    // Should the reader ever refuse valid JSON, the body is still read, only slower.
    auto dom = detail::parse_batch_dom(salvaged->body, received);
    if (!dom) return dom;
    batch = std::move(*dom);
  }
  batch->skipped += salvaged->unreadable;
  batch->repaired += salvaged->repaired;
  return std::move(*batch);
}

}  // namespace elk::telemetry
