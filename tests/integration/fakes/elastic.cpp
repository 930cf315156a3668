#include "fakes/elastic.h"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cstdio>
#include <expected>
#include <map>
#include <random>
#include <unordered_map>

#include "aws/sigv4.h"
#include "http/server.h"

namespace elk::fakes {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using SysClock = std::chrono::system_clock;

constexpr std::string_view kRejectedReason =
    "rejected execution of coordinating operation [coordinating_and_primary_bytes=104857600, replica_bytes=0, "
    "all_bytes=104857600, coordinating_operation_bytes=1024, max_coordinating_and_primary_bytes=107374182]";
constexpr std::string_view kDataStreamOpReason = "only write ops with an op_type of create are allowed in data streams";
constexpr std::string_view kSignatureMismatch =
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details.";
constexpr std::string_view kInvalidToken = "The security token included in the request is invalid.";

// Query parameters of _bulk (8.11) and the global ones.
constexpr std::array<std::string_view, 13> kBulkParams = {
    "wait_for_active_shards", "routing",          "timeout", "pipeline", "require_alias", "refresh",    "_source",
    "_source_includes",       "_source_excludes", "pretty",  "human",    "error_trace",   "filter_path"};
// Fields of the action object (besides _index, _id, op_type, version, version_type).
constexpr std::array<std::string_view, 7> kActionParams = {
    "routing", "if_seq_no", "if_primary_term", "retry_on_conflict", "pipeline", "_source", "require_alias"};
constexpr std::array<std::string_view, 7> kUpdateFields = {
    "doc", "upsert", "doc_as_upsert", "script", "scripted_upsert", "detect_noop", "_source"};
constexpr std::array<std::string_view, 14> kMetadataFields = {"_id",
                                                              "_index",
                                                              "_routing",
                                                              "_source",
                                                              "_version",
                                                              "_seq_no",
                                                              "_primary_term",
                                                              "_ignored",
                                                              "_tier",
                                                              "_doc_count",
                                                              "_field_names",
                                                              "_nested_path",
                                                              "_data_stream_timestamp",
                                                              "_feature"};

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

std::string token_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
      return "START_OBJECT";
    case json::kind::array:
      return "START_ARRAY";
    case json::kind::string:
      return "VALUE_STRING";
    case json::kind::bool_:
      return "VALUE_BOOLEAN";
    case json::kind::null:
      return "VALUE_NULL";
    default:
      return "VALUE_NUMBER";
  }
}

// The text of a simple JSON value, as Jackson's parser.text() gives it.
std::string value_text(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return json::serialize(v);
}

std::string preview(const json::value& v) {
  return value_text(v);
}

// {"error":{"root_cause":[{...}],"type":..,"reason":..},"status":..}: Elasticsearch's exception body.
json::object es_error(int status, std::string_view type, std::string_view reason, const json::object& extra = {}) {
  json::object cause{{"type", type}, {"reason", reason}};
  for (const auto& [k, v] : extra) cause[k] = v;
  json::object error{{"root_cause", json::array{cause}}};
  for (const auto& [k, v] : cause) error[k] = v;
  return json::object{{"error", std::move(error)}, {"status", status}};
}

// {"error":"..","status":..}: RestResponse.createSimpleErrorResponse.
json::object simple_error(int status, std::string_view message) {
  return json::object{{"error", message}, {"status", status}};
}

std::string random_token(std::mt19937_64& rng, std::size_t n) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out(n, 'A');
  for (char& c : out) c = kChars[rng() % 64];
  return out;
}

std::string format_amz_date(SysClock::time_point tp) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(tp);
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const hh_mm_ss hms{secs - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

std::optional<SysClock::time_point> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t n) -> std::optional<int> {
    int v = 0;
    const auto [p, ec] = std::from_chars(s.data() + pos, s.data() + pos + n, v);
    if (ec != std::errc{} || p != s.data() + pos + n) return std::nullopt;
    return v;
  };
  const auto y = num(0, 4), mo = num(4, 2), d = num(6, 2), h = num(9, 2), mi = num(11, 2), se = num(13, 2);
  if (!y || !mo || !d || !h || !mi || !se) return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{year{*y}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
  if (!ymd.ok() || *h > 23 || *mi > 59 || *se > 60) return std::nullopt;
  return sys_days{ymd} + hours{*h} + minutes{*mi} + seconds{*se};
}

std::string today_dotted() {
  using namespace std::chrono;
  const year_month_day ymd{floor<days>(SysClock::now())};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d.%02u.%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

std::optional<std::string> invalid_index_name(std::string_view name) {
  std::string what;
  if (name.empty()) {
    what = "must not be empty";
  } else if (to_lower(name) != name) {
    what = "must be lowercase";
  } else if (name.find_first_of("\\/*?\"<>| ,") != std::string_view::npos) {
    what = "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]";
  } else if (name.find('#') != std::string_view::npos) {
    what = "must not contain '#'";
  } else if (name.find(':') != std::string_view::npos) {
    what = "must not contain ':'";
  } else if (name.front() == '_' || name.front() == '-' || name.front() == '+') {
    what = "must not start with '_', '-', or '+'";
  } else if (name == "." || name == "..") {
    what = "must not be '.' or '..'";
  } else if (name.size() > 255) {
    what = "index name is too long, (" + std::to_string(name.size()) + " > 255)";
  } else {
    return std::nullopt;
  }
  return "Invalid index name [" + std::string(name) + "], " + what;
}

// --- dynamic mapping --------------------------------------------------------------------------------------------

enum class FieldType { object, text, keyword, long_, float_, boolean, date };

std::string_view type_name(FieldType t) {
  switch (t) {
    case FieldType::object:
      return "object";
    case FieldType::text:
      return "text";
    case FieldType::keyword:
      return "constant_keyword";
    case FieldType::long_:
      return "long";
    case FieldType::float_:
      return "float";
    case FieldType::boolean:
      return "boolean";
    case FieldType::date:
      return "date";
  }
  return "?";
}

struct Mapping {
  std::unordered_map<std::string, FieldType> fields;
  std::size_t count = 0;  // mapped fields, as index.mapping.total_fields.limit counts them
};

// A document that cannot be indexed.
struct DocError {
  std::string reason;
  std::string cause_type;  // "" = no caused_by
  std::string cause_reason;
};

bool is_number_text(std::string_view s) {
  s = trim(s);
  if (s.empty()) return false;
  double d = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  return ec == std::errc{} && p == s.data() + s.size();
}

bool is_epoch_millis_text(std::string_view s) {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Checks a document against an index's mapping, collecting the fields it would add.
class MappingCheck {
 public:
  MappingCheck(const Mapping& mapping, std::string id, std::size_t column)
      : mapping_(mapping), id_(std::move(id)), at_("[1:" + std::to_string(column) + "] ") {}

  std::optional<DocError> document(const json::object& doc) { return object("", doc, true); }

  std::size_t added_count() const { return added_count_; }
  void commit(Mapping& m) const {
    for (const auto& [path, type] : added_) m.fields[path] = type;
    m.count += added_count_;
  }
  const std::string& at() const { return at_; }

 private:
  std::optional<FieldType> type_of(const std::string& path) const {
    if (const auto it = added_.find(path); it != added_.end()) return it->second;
    if (const auto it = mapping_.fields.find(path); it != mapping_.fields.end()) return it->second;
    return std::nullopt;
  }
  void add(const std::string& path, FieldType t) {
    added_[path] = t;
    added_count_ += t == FieldType::text ? 2 : 1;  // text gets a .keyword multi-field
  }
  DocError failed(std::string what) const { return {at_ + "failed to parse: " + what, "", ""}; }
  DocError field_error(const std::string& path, FieldType t, const json::value& v) const {
    return {at_ + "failed to parse field [" + path + "] of type [" + std::string(type_name(t)) +
                "] in document with id '" + id_ + "'. Preview of field's value: '" + preview(v) + "'",
            "illegal_argument_exception",
            "the value does not fit the field's type [" + std::string(type_name(t)) + "]"};
  }

  std::optional<DocError> object(const std::string& prefix, const json::object& obj, bool top) {
    for (const auto& [k, v] : obj) {
      const std::string key(k);
      if (key.empty()) return failed("field name cannot be an empty string");
      if (is_blank(key)) return failed("field name cannot contain only whitespace: ['" + key + "']");
      if (key.front() == '.' || key.back() == '.' || key.find("..") != std::string::npos)
        return failed("field name starting or ending with a [.] makes object resolution ambiguous: [" + key + "]");
      if (top && one_of(kMetadataFields, key))
        return DocError{at_ + "failed to parse: Field [" + key +
                            "] is a metadata field and cannot be added inside a document. Use the index API request "
                            "parameters.",
                        "", ""};
      std::string path = prefix;
      std::size_t start = 0;
      for (;;) {
        const auto dot = key.find('.', start);
        if (!path.empty()) path += '.';
        path += key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (dot == std::string::npos) break;
        if (auto e = ensure_object(path)) return e;
        start = dot + 1;
      }
      if (auto e = value(path, v)) return e;
    }
    return std::nullopt;
  }

  std::optional<DocError> ensure_object(const std::string& path) {
    const auto t = type_of(path);
    if (!t) {
      add(path, FieldType::object);
    } else if (*t != FieldType::object) {
      return failed("Could not dynamically add mapping for field [" + path + "]. Existing mapping for [" + path +
                    "] must be of type object but found [" + std::string(type_name(*t)) + "].");
    }
    return std::nullopt;
  }

  std::optional<DocError> value(const std::string& path, const json::value& v) {
    if (v.is_object()) {
      const auto t = type_of(path);
      if (t && *t != FieldType::object) return field_error(path, *t, v);
      if (!t) add(path, FieldType::object);
      return object(path, v.as_object(), false);
    }
    if (v.is_array()) {
      for (const auto& e : v.as_array())
        if (auto err = value(path, e)) return err;
      return std::nullopt;
    }
    if (v.is_null()) return std::nullopt;
    return leaf(path, v);
  }

  std::optional<DocError> leaf(const std::string& path, const json::value& v) {
    const auto t = type_of(path);
    if (!t) {
      if (v.is_string())
        add(path, is_strict_date_optional_time(v.as_string()) ? FieldType::date : FieldType::text);
      else if (v.is_bool())
        add(path, FieldType::boolean);
      else if (v.is_double())
        add(path, FieldType::float_);
      else
        add(path, FieldType::long_);
      return std::nullopt;
    }
    switch (*t) {
      case FieldType::object: {
        const auto dot = path.rfind('.');
        return failed("object mapping for [" + path + "] tried to parse field [" +
                      (dot == std::string::npos ? path : path.substr(dot + 1)) +
                      "] as object, but found a concrete value");
      }
      case FieldType::text:
      case FieldType::keyword:
        return std::nullopt;
      case FieldType::long_:
      case FieldType::float_:
        if (v.is_bool() || (v.is_string() && !is_number_text(v.as_string()))) return field_error(path, *t, v);
        return std::nullopt;
      case FieldType::boolean:
        if (v.is_bool()) return std::nullopt;
        if (v.is_string() && (v.as_string() == "true" || v.as_string() == "false" || v.as_string().empty()))
          return std::nullopt;
        return field_error(path, *t, v);
      case FieldType::date:
        if (v.is_bool()) return field_error(path, *t, v);
        if (v.is_string() && !is_strict_date_optional_time(v.as_string()) && !is_epoch_millis_text(v.as_string()))
          return field_error(path, *t, v);
        return std::nullopt;
    }
    return std::nullopt;
  }

  const Mapping& mapping_;
  std::string id_;
  std::string at_;
  std::map<std::string, FieldType> added_;
  std::size_t added_count_ = 0;
};

// A value at a path, written nested ({"a":{"b":1}}) or dotted ({"a.b":1}).
const json::value* find_path(const json::object& obj, std::string_view path) {
  if (const auto it = obj.find(path); it != obj.end()) return &it->value();
  for (std::size_t dot = path.find('.'); dot != std::string_view::npos; dot = path.find('.', dot + 1)) {
    const auto it = obj.find(path.substr(0, dot));
    if (it != obj.end() && it->value().is_object())
      if (const auto* v = find_path(it->value().as_object(), path.substr(dot + 1))) return v;
  }
  return nullptr;
}

void merge_into(json::object& target, const json::object& patch) {
  for (const auto& [k, v] : patch) {
    auto it = target.find(k);
    if (it != target.end() && it->value().is_object() && v.is_object())
      merge_into(it->value().as_object(), v.as_object());
    else
      target[k] = v;
  }
}

// filter_path: names, '*' and '**' segments; array elements that keep nothing are dropped.
using FilterPaths = std::vector<std::vector<std::string>>;

std::optional<json::value> apply_filter(const json::value& v, const FilterPaths& paths) {
  for (const auto& p : paths)
    if (p.empty()) return v;
  if (v.is_object()) {
    json::object out;
    for (const auto& [k, child] : v.as_object()) {
      FilterPaths next;
      for (const auto& p : paths) {
        if (p.front() == "**") {
          next.push_back(p);
          if (p.size() > 1 && glob_match(p[1], k)) next.emplace_back(p.begin() + 2, p.end());
        } else if (glob_match(p.front(), k)) {
          next.emplace_back(p.begin() + 1, p.end());
        }
      }
      if (next.empty()) continue;
      if (auto kept = apply_filter(child, next)) out[k] = std::move(*kept);
    }
    if (out.empty()) return std::nullopt;
    return json::value(std::move(out));
  }
  if (v.is_array()) {
    json::array out;
    for (const auto& e : v.as_array())
      if (auto kept = apply_filter(e, paths)) out.push_back(std::move(*kept));
    if (out.empty()) return std::nullopt;
    return json::value(std::move(out));
  }
  return std::nullopt;
}

// One bulk item as parsed from its action line (and source line).
struct Item {
  std::string action;
  std::optional<std::string> index;
  std::optional<std::string> id;
  std::optional<std::string> pipeline;
  bool create = false;  // create, or index with op_type create
  std::string source;   // create/index: the source line; update: the update line
  json::object update;  // update: the parsed update line
  // Pass 1 (outside the lock): the parsed source and what the predicates said.
  std::optional<json::object> doc;
  std::optional<DocError> doc_error;
  bool reject_match = false;
  bool mapping_match = false;
};

struct Refusal {
  int status;
  json::object body;
  std::string why;
};

std::unexpected<Refusal> illegal(std::string reason) {
  return std::unexpected(Refusal{400, es_error(400, "illegal_argument_exception", reason), reason});
}

std::unexpected<Refusal> xcontent(int line, std::string reason) {
  std::string r = "[" + std::to_string(line) + ":1] " + reason;
  return std::unexpected(Refusal{400, es_error(400, "x_content_parse_exception", r), r});
}

// Parses a _bulk body as BulkRequestParser does (with the stricter rules in elastic.h).
std::expected<std::vector<Item>, Refusal> parse_bulk(std::string_view body, const std::optional<std::string>& index,
                                                     const std::optional<std::string>& pipeline) {
  constexpr std::string_view kNewline = "The bulk request must be terminated by a newline [\\n]";
  std::vector<Item> items;
  std::size_t from = 0;
  int line = 0;
  for (;;) {
    const auto nl = body.find('\n', from);
    if (nl == std::string_view::npos) {
      if (from != body.size()) return illegal(std::string(kNewline));
      break;
    }
    ++line;
    const std::string_view text = body.substr(from, nl - from);
    from = nl + 1;
    if (is_blank(text)) continue;
    json::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) return xcontent(line, "Failed to parse the action/metadata line: " + ec.message());
    if (auto dup = find_duplicate_key(text)) return xcontent(line, "Duplicate field '" + *dup + "'");
    const std::string at = "Malformed action/metadata line [" + std::to_string(line) + "], ";
    if (!v.is_object()) return illegal(at + "expected START_OBJECT but found [" + token_name(v) + "]");
    const auto& obj = v.as_object();
    if (obj.empty()) return illegal(at + "expected FIELD_NAME but found [END_OBJECT]");
    if (obj.size() > 1) return illegal(at + "expected END_OBJECT but found [FIELD_NAME]");
    const auto& [key, params] = *obj.begin();
    Item item;
    item.action = std::string(key);
    item.index = index;
    item.pipeline = pipeline;
    if (item.action != "create" && item.action != "index" && item.action != "update" && item.action != "delete")
      return illegal("Unsupported action: [" + item.action +
                     "]. Supported values are [create], [delete], [index], and [update].");
    if (!params.is_object())
      return illegal(at + "expected START_OBJECT or END_OBJECT but found [" + token_name(params) + "]");
    bool versioned = false;
    std::optional<std::string> op_type;
    for (const auto& [pk, pv] : params.as_object()) {
      const std::string name(pk);
      if (pv.is_array())
        return illegal(at + "expected a simple value for field [" + name + "] but found [START_ARRAY]");
      if (pv.is_object()) {
        if (name == "_source" || name == "dynamic_templates") continue;
        return illegal(at + "expected a simple value for field [" + name + "] but found [START_OBJECT]");
      }
      if (pv.is_null()) continue;
      if (name == "_index") {
        item.index = value_text(pv);
      } else if (name == "_id") {
        item.id = value_text(pv);
      } else if (name == "op_type") {
        op_type = value_text(pv);
      } else if (name == "version" || name == "version_type") {
        versioned = true;
      } else if (name == "pipeline") {
        item.pipeline = value_text(pv);
      } else if (!one_of(kActionParams, name)) {
        return illegal("Action/metadata line [" + std::to_string(line) + "] contains an unknown parameter [" + name +
                       "]");
      }
    }
    item.create = item.action == "create" || (item.action == "index" && op_type == "create");
    if (item.action == "delete") {
      items.push_back(std::move(item));
      continue;
    }
    const auto source_end = body.find('\n', from);
    if (source_end == std::string_view::npos) {
      if (from != body.size()) return illegal(std::string(kNewline));
      return illegal("Action/metadata line [" + std::to_string(line) +
                     "] has no source line after it (Elasticsearch would silently drop this action)");
    }
    ++line;
    std::string_view source = body.substr(from, source_end - from);
    if (!source.empty() && source.back() == '\r') source.remove_suffix(1);
    from = source_end + 1;
    item.source = std::string(source);
    if (item.action == "update") {
      if (versioned)
        return illegal(
            "Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead");
      json::value u = json::parse(source, ec);
      if (ec) return xcontent(line, "Failed to parse the update request: " + ec.message());
      if (auto dup = find_duplicate_key(source)) return xcontent(line, "Duplicate field '" + *dup + "'");
      if (!u.is_object()) return xcontent(line, "[UpdateRequest] Expected START_OBJECT but was: " + token_name(u));
      for (const auto& [uk, uv] : u.as_object()) {
        if (!one_of(kUpdateFields, uk))
          return xcontent(line, "[UpdateRequest] unknown field [" + std::string(uk) + "]");
        if ((uk == "doc" || uk == "upsert") && !uv.is_object())
          return xcontent(line,
                          "[UpdateRequest] " + std::string(uk) + " doesn't support values of type: " + token_name(uv));
      }
      item.update = std::move(u.as_object());
    }
    items.push_back(std::move(item));
  }
  return items;
}

// ActionRequestValidationException: every problem, numbered.
std::optional<Refusal> validate(const std::vector<Item>& items) {
  std::string failures;
  int n = 0;
  auto add = [&](const std::string& what) { failures += std::to_string(++n) + ": " + what + ";"; };
  if (items.empty()) add("no requests added");
  for (const auto& it : items) {
    if (!it.index) add("index is missing");
    if (it.action == "create" || it.action == "index") {
      if (it.id && it.id->empty()) add("if _id is specified it must not be empty");
      if (it.id && it.id->size() > 512)
        add("id [" + *it.id +
            "] is too long, must be no longer than 512 bytes but was: " + std::to_string(it.id->size()));
    } else {
      if (!it.id) add("id is missing");
      if (it.action == "update" && !it.update.contains("doc") && !it.update.contains("upsert") &&
          !it.update.contains("script"))
        add("script or doc is missing");
    }
  }
  if (n == 0) return std::nullopt;
  const std::string reason = "Validation Failed: " + failures;
  return Refusal{400, es_error(400, "action_request_validation_exception", reason), reason};
}

// The document of a create/index item, parsed as Elasticsearch's DocumentParser would.
std::expected<json::object, DocError> parse_document(std::string_view source) {
  const std::string at = "[1:" + std::to_string(std::max<std::size_t>(source.size(), 1)) + "] ";
  if (is_blank(source)) return std::unexpected(DocError{at + "failed to parse, document is empty", "", ""});
  json::error_code ec;
  json::value v = json::parse(source, ec);
  if (ec)
    return std::unexpected(
        DocError{at + "failed to parse: " + ec.message(), "x_content_parse_exception", at + ec.message()});
  if (auto dup = find_duplicate_key(source))
    return std::unexpected(DocError{at + "failed to parse: Duplicate field '" + *dup + "'", "x_content_parse_exception",
                                    at + "Duplicate field '" + *dup + "'"});
  if (!v.is_object())
    return std::unexpected(DocError{"[1:1] failed to parse: Malformed content, must start with an object", "", ""});
  return std::move(v.as_object());
}

// --- SigV4 ------------------------------------------------------------------------------------------------------

struct SigV4Verdict {
  bool ok = false;
  bool anonymous = false;  // no Authorization header
  std::string message;     // the 403 body's message
  std::string why;         // for RecordedRequest::refusal
};

SigV4Verdict sigv4_refuse(std::string message, std::string why) {
  return {false, false, std::move(message), std::move(why)};
}

SigV4Verdict verify_sigv4(const http::Request& req, const ElasticAuth& a, SysClock::time_point now) {
  const auto authz = req.header("authorization");
  if (!authz) return {false, true, "", "sigv4: no Authorization header"};
  const std::string_view value = trim(*authz);
  constexpr std::string_view kAlg = "AWS4-HMAC-SHA256 ";
  std::string credential, signed_headers, signature;
  if (value.starts_with(kAlg)) {
    std::string_view rest = value.substr(kAlg.size());
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string_view part = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      if (part.starts_with("Credential=")) credential = part.substr(11);
      if (part.starts_with("SignedHeaders=")) signed_headers = part.substr(14);
      if (part.starts_with("Signature=")) signature = part.substr(10);
    }
  }
  if (credential.empty() || signed_headers.empty() || signature.empty())
    return sigv4_refuse(
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. Authorization=" +
            std::string(value),
        "sigv4: the Authorization header is not 'AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..'");
  const auto amz_date = req.header("x-amz-date");
  if (!amz_date)
    return sigv4_refuse(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=" +
            std::string(value),
        "sigv4: no x-amz-date header");
  const auto signed_at = parse_amz_date(*amz_date);
  if (!signed_at)
    return sigv4_refuse("Invalid X-Amz-Date header: " + std::string(*amz_date),
                        "sigv4: x-amz-date is not YYYYMMDDTHHMMSSZ");

  std::vector<std::string> scope;
  for (std::size_t start = 0;;) {
    const auto slash = credential.find('/', start);
    scope.push_back(credential.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (scope.size() != 5)
    return sigv4_refuse("Credential should be scoped to a valid region. ",
                        "sigv4: Credential is not <key>/<date>/<region>/<service>/aws4_request");
  if (scope[0] != a.access_key_id)
    return sigv4_refuse(std::string(kInvalidToken), "sigv4: unknown access key id '" + scope[0] + "'");
  if (scope[4] != "aws4_request")
    return sigv4_refuse("Credential should be scoped with a valid terminator: 'aws4_request', not '" + scope[4] + "'. ",
                        "sigv4: bad scope terminator");
  if (scope[3] != a.service)
    return sigv4_refuse("Credential should be scoped to correct service: '" + a.service + "'. ",
                        "sigv4: scope service '" + scope[3] + "', expected '" + a.service + "'");
  if (scope[2] != a.region)
    return sigv4_refuse("Credential should be scoped to a valid region. ",
                        "sigv4: scope region '" + scope[2] + "', expected '" + a.region + "'");
  if (scope[1] != amz_date->substr(0, 8))
    return sigv4_refuse("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
                            scope[1] + "' != '" + std::string(amz_date->substr(0, 8)) +
                            "', from ISO-8601 version of "
                            "date from HTTP.",
                        "sigv4: scope date differs from x-amz-date");
  if (*signed_at + a.max_clock_skew < now)
    return sigv4_refuse("Signature expired: " + std::string(*amz_date) + " is now earlier than " +
                            format_amz_date(now - a.max_clock_skew) + " (" + format_amz_date(now) + " - " +
                            std::to_string(a.max_clock_skew.count() / 60) + " min.)",
                        "sigv4: x-amz-date is too old");
  if (*signed_at - a.max_clock_skew > now)
    return sigv4_refuse("Signature not yet current: " + std::string(*amz_date) + " is still later than " +
                            format_amz_date(now + a.max_clock_skew) + " (" + format_amz_date(now) + " + " +
                            std::to_string(a.max_clock_skew.count() / 60) + " min.)",
                        "sigv4: x-amz-date is in the future");

  std::vector<std::string> names;
  for (std::size_t start = 0;;) {
    const auto semi = signed_headers.find(';', start);
    names.push_back(signed_headers.substr(start, semi == std::string::npos ? std::string::npos : semi - start));
    if (semi == std::string::npos) break;
    start = semi + 1;
  }
  auto is_signed = [&](std::string_view n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  if (!is_signed("host"))
    return sigv4_refuse("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
                        "sigv4: host is not signed");
  if (!is_signed("x-amz-date")) return sigv4_refuse(std::string(kSignatureMismatch), "sigv4: x-amz-date is not signed");
  const auto token = req.header("x-amz-security-token");
  if (a.session_token.empty() && token)
    return sigv4_refuse(std::string(kInvalidToken), "sigv4: a session token was sent, but the keys are long-term");
  if (!a.session_token.empty() && (!token || *token != a.session_token))
    return sigv4_refuse(std::string(kInvalidToken), "sigv4: the session token is missing or different");
  if (token && !is_signed("x-amz-security-token"))
    return sigv4_refuse(std::string(kSignatureMismatch), "sigv4: x-amz-security-token is not signed");
  if (a.service == "aoss") {
    const auto content_sha = req.header("x-amz-content-sha256");
    if (!content_sha || !is_signed("x-amz-content-sha256"))
      return sigv4_refuse(std::string(kSignatureMismatch),
                          "sigv4: aoss needs a signed x-amz-content-sha256 header (opensearch-java #339)");
    if (*content_sha != aws::sha256_hex(req.body))
      return sigv4_refuse("The provided 'x-amz-content-sha256' header does not match what was computed.",
                          "sigv4: x-amz-content-sha256 is not the SHA-256 of the body as sent");
  }
  for (const auto& n : names)
    if (!req.header(n))
      return sigv4_refuse(std::string(kSignatureMismatch), "sigv4: signed header '" + n + "' is absent");

  // Re-sign a copy with only the signed headers, the request's own time and token.
  http::Request copy;
  copy.method = req.method;
  copy.target = req.target;
  copy.body = req.body;
  for (const auto& h : req.headers)
    if (is_signed(to_lower(h.name))) copy.headers.push_back(h);
  aws::Credentials creds{a.access_key_id, a.secret_access_key, token ? std::string(*token) : std::string()};
  aws::SigningParams params{a.region, a.service, *signed_at, false, true};
  auto expected = aws::sign(copy, "", creds, params);
  if (!expected)
    return sigv4_refuse(std::string(kSignatureMismatch), "sigv4: cannot re-sign: " + expected.error().message);
  const std::string& auth = expected->authorization;
  const std::string expected_signature = auth.substr(auth.rfind("Signature=") + 10);
  const auto sh = auth.find("SignedHeaders=") + 14;
  const std::string expected_signed = auth.substr(sh, auth.find(',', sh) - sh);
  if (expected_signed != signed_headers || expected_signature != signature)
    return sigv4_refuse(std::string(kSignatureMismatch),
                        "sigv4: signature mismatch; SignedHeaders sent '" + signed_headers + "', expected '" +
                            expected_signed + "'; the fake's canonical request was:\n" + expected->canonical_request +
                            "\nand string to sign:\n" + expected->string_to_sign);
  return {true, false, "", ""};
}

}  // namespace

// --- ElasticAuth ------------------------------------------------------------------------------------------------

ElasticAuth ElasticAuth::basic(std::string user, std::string password) {
  ElasticAuth a;
  a.kind = Kind::basic;
  a.user = std::move(user);
  a.password = std::move(password);
  return a;
}

ElasticAuth ElasticAuth::api_key_auth(std::string encoded) {
  ElasticAuth a;
  a.kind = Kind::api_key;
  a.api_key = std::move(encoded);
  return a;
}

ElasticAuth ElasticAuth::sigv4(std::string service, std::string region, std::string access_key_id,
                               std::string secret_access_key, std::string session_token) {
  ElasticAuth a;
  a.kind = Kind::sigv4;
  a.service = std::move(service);
  a.region = std::move(region);
  a.access_key_id = std::move(access_key_id);
  a.secret_access_key = std::move(secret_access_key);
  a.session_token = std::move(session_token);
  return a;
}

// --- the fake ---------------------------------------------------------------------------------------------------

struct FakeElasticsearch::Impl {
  struct Doc {
    std::int64_t version = 1;
    json::object source;
    std::uint64_t order = 0;
  };
  struct Index {
    bool data_stream = false;
    std::string concrete;  // the name answers carry: the backing index of a data stream
    std::string uuid;
    std::unordered_map<std::string, Doc> docs;
    std::int64_t seq_no = 0;
    Mapping mapping;
  };
  struct Entry {
    RecordedRequest request;
    bool bulk = false;
  };

  explicit Impl(ElasticOptions o) : options(std::move(o)), auth(options.auth), rng(std::random_device{}()) {
    if (options.version.empty()) options.version = opensearch() ? "2.11.0" : "8.11.0";
    ds_date = today_dotted();
    cluster_uuid = random_token(rng, 22);
  }

  bool opensearch() const { return options.flavor == ElasticOptions::Flavor::opensearch; }
  std::string rejected_type() const {
    return opensearch() ? "rejected_execution_exception" : "es_rejected_execution_exception";
  }
  std::string parsing_type() const { return opensearch() ? "mapper_parsing_exception" : "document_parsing_exception"; }

  http::Response respond(int status, const json::value& body,
                         std::string_view content_type = "application/json") const {
    http::Response r;
    r.status = status;
    r.body = json::serialize(body);
    r.headers.push_back({"Content-Type", std::string(content_type)});
    if (!opensearch()) r.headers.push_back({"X-elastic-product", "Elasticsearch"});
    return r;
  }
  http::Response refuse(const Refusal& f, RecordedRequest& rec) const {
    rec.refusal = f.why;
    return respond(f.status, f.body);
  }
  http::Response unauthorized(const std::string& reason, RecordedRequest& rec) const {
    rec.refusal = "auth: " + reason;
    if (opensearch()) {
      http::Response r = http::make_response(401, "Unauthorized", "text/plain; charset=UTF-8");
      r.headers.push_back({"WWW-Authenticate", "Basic realm=\"OpenSearch Security\""});
      return r;
    }
    json::object header{{"WWW-Authenticate", json::array{"Basic realm=\"security\" charset=\"UTF-8\"", "ApiKey"}}};
    http::Response r = respond(401, es_error(401, "security_exception", reason, json::object{{"header", header}}));
    r.headers.push_back({"WWW-Authenticate", "Basic realm=\"security\" charset=\"UTF-8\", ApiKey"});
    return r;
  }

  http::Response fault_response(const HttpFault& f, const std::string& target) const {
    http::Response r;
    if (f.body) {
      r = respond(f.status, json::value(nullptr));
      r.body = *f.body;
    } else if (f.status == 429) {
      r = respond(429, es_error(429, rejected_type(), kRejectedReason));
    } else if (f.status == 503) {
      r = respond(503, es_error(503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];"));
    } else if (f.status == 401) {
      RecordedRequest ignored;
      r = unauthorized("missing authentication credentials for REST request [" + target + "]", ignored);
    } else if (f.status == 403) {
      r = respond(403, es_error(403, "security_exception",
                                "action [indices:data/write/bulk] is unauthorized for user [fake] with effective roles "
                                "[viewer], this action is granted by the index privileges "
                                "[create_doc,create,index,write,all]"));
    } else if (f.status == 413) {
      r = respond(413, json::value(nullptr));
      r.body.clear();
    } else if (f.status == 502 || f.status == 504) {
      const std::string title = f.status == 502 ? "502 Bad Gateway" : "504 Gateway Time-out";
      r = http::make_response(f.status,
                              "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
                                  "</h1></center>\r\n</body>\r\n</html>\r\n",
                              "text/html");
    } else {
      r = respond(f.status, es_error(f.status, "exception", "injected fault " + std::to_string(f.status)));
    }
    r.status = f.status;
    for (const auto& h : f.headers) r.headers.push_back(h);
    return r;
  }

  std::optional<http::Response> check_auth(const http::Request& req, RecordedRequest& rec) {
    ElasticAuth a;
    {
      std::lock_guard lock(mu);
      a = auth;
    }
    const auto header = req.header("authorization");
    const std::string target = req.target;
    auto scheme_is = [&](std::string_view scheme) {
      return header && header->size() > scheme.size() && http::iequals(header->substr(0, scheme.size()), scheme);
    };
    switch (a.kind) {
      case ElasticAuth::Kind::none:
        return std::nullopt;
      case ElasticAuth::Kind::basic: {
        if (!header) return unauthorized("missing authentication credentials for REST request [" + target + "]", rec);
        if (!scheme_is("Basic "))
          return unauthorized(
              "unable to authenticate with provided credentials and anonymous access is not allowed "
              "for this request",
              rec);
        const auto decoded = base64_decode(trim(header->substr(6)));
        if (!decoded) return unauthorized("invalid basic authentication header encoding", rec);
        const auto colon = decoded->find(':');
        if (colon == std::string::npos) return unauthorized("invalid basic authentication header value", rec);
        const std::string user = decoded->substr(0, colon);
        if (user != a.user || decoded->substr(colon + 1) != a.password)
          return unauthorized("unable to authenticate user [" + user + "] for REST request [" + target + "]", rec);
        return std::nullopt;
      }
      case ElasticAuth::Kind::api_key: {
        if (!header) return unauthorized("missing authentication credentials for REST request [" + target + "]", rec);
        if (!scheme_is("ApiKey ") || trim(header->substr(7)) != a.api_key)
          return unauthorized(
              "unable to authenticate with provided credentials and anonymous access is not allowed "
              "for this request",
              rec);
        return std::nullopt;
      }
      case ElasticAuth::Kind::sigv4: {
        const SigV4Verdict v = verify_sigv4(req, a, SysClock::now());
        if (v.ok) return std::nullopt;
        rec.refusal = v.why;
        if (!v.anonymous) return respond(403, json::object{{"message", v.message}});
        if (a.service == "aoss")
          return respond(403,
                         json::object{{"status", 403},
                                      {"request-id", random_token(rng, 8)},
                                      {"error", json::object{{"reason", "403 Forbidden"}, {"type", "Forbidden"}}}});
        std::string verb = to_lower(req.method);
        if (!verb.empty()) verb[0] = static_cast<char>(verb[0] - 'a' + 'A');
        return respond(403, json::object{{"Message", "User: anonymous is not authorized to perform: es:ESHttp" + verb +
                                                         " because no resource-based policy allows the es:ESHttp" +
                                                         verb + " action"}});
      }
    }
    return std::nullopt;
  }

  http::Response root(const http::Request& req) const {
    json::object version;
    if (opensearch()) version["distribution"] = "opensearch";
    version["number"] = options.version;
    if (!opensearch()) version["build_flavor"] = "default";
    version["build_type"] = opensearch() ? "tar" : "docker";
    version["build_hash"] = "0000000000000000000000000000000000000000";
    version["build_date"] = "2023-11-04T10:04:57.184859352Z";
    version["build_snapshot"] = false;
    version["lucene_version"] = opensearch() ? "9.7.0" : "9.8.0";
    version["minimum_wire_compatibility_version"] = opensearch() ? "7.10.0" : "7.17.0";
    version["minimum_index_compatibility_version"] = "7.0.0";
    json::object body{{"name", "fake"}, {"cluster_name", "fake"}, {"cluster_uuid", cluster_uuid}};
    body["version"] = std::move(version);
    body["tagline"] = opensearch() ? "The OpenSearch Project: https://opensearch.org/" : "You Know, for Search";
    http::Response r = respond(200, body);
    if (req.method == "HEAD") r.body.clear();
    return r;
  }

  bool is_data_stream(std::string_view name) const {
    return std::any_of(options.data_stream_patterns.begin(), options.data_stream_patterns.end(),
                       [&](const std::string& p) { return glob_match(p, name); });
  }

  // Under the lock.
  Index& index_named(const std::string& name) {
    auto [it, fresh] = indices.try_emplace(name);
    if (fresh) {
      Index& ix = it->second;
      ix.data_stream = is_data_stream(name);
      ix.concrete = ix.data_stream ? (".ds-" + name + "-" + ds_date + "-000001") : name;
      ix.uuid = random_token(rng, 22);
      if (ix.data_stream) {
        ix.mapping.fields = {{"@timestamp", FieldType::date},
                             {"data_stream", FieldType::object},
                             {"data_stream.type", FieldType::keyword},
                             {"data_stream.dataset", FieldType::keyword},
                             {"data_stream.namespace", FieldType::keyword}};
        ix.mapping.count = ix.mapping.fields.size();
      }
    }
    return it->second;
  }

  // Data stream rules on a document: @timestamp, and data_stream.* equal to the name's parts.
  std::optional<DocError> data_stream_rules(const std::string& name, const json::object& doc, const std::string& id,
                                            std::size_t column) const {
    const std::string at = "[1:" + std::to_string(column) + "] ";
    const json::value* ts = find_path(doc, "@timestamp");
    if (!ts || ts->is_null())
      return DocError{at + "failed to parse: data stream timestamp field [@timestamp] is missing",
                      "illegal_argument_exception", "data stream timestamp field [@timestamp] is missing"};
    if (ts->is_array())
      return DocError{at + "failed to parse: data stream timestamp field [@timestamp] encountered multiple values", "",
                      ""};
    const bool date_ok =
        ts->is_number() ||
        (ts->is_string() && (is_strict_date_optional_time(ts->as_string()) || is_epoch_millis_text(ts->as_string())));
    if (!date_ok)
      return DocError{at + "failed to parse field [@timestamp] of type [date] in document with id '" + id +
                          "'. Preview of field's value: '" + preview(*ts) + "'",
                      "illegal_argument_exception", "failed to parse date field [" + preview(*ts) + "]"};
    const auto first = name.find('-');
    const auto last = name.rfind('-');
    if (first == std::string::npos || first == last) return std::nullopt;  // not <type>-<dataset>-<namespace>
    const std::array<std::pair<std::string, std::string>, 3> parts = {
        std::pair{std::string("type"), name.substr(0, first)},
        std::pair{std::string("dataset"), name.substr(first + 1, last - first - 1)},
        std::pair{std::string("namespace"), name.substr(last + 1)}};
    for (const auto& [field, expected] : parts) {
      const json::value* v = find_path(doc, "data_stream." + field);
      if (!v || v->is_null()) continue;
      if (!v->is_string() || v->as_string() != expected) {
        const std::string what = "[constant_keyword] field [data_stream." + field +
                                 "] only accepts values that are equal to the value defined in the mappings [" +
                                 expected + "], but got [" + preview(*v) + "]";
        return DocError{at + "failed to parse: " + what, "illegal_argument_exception", what};
      }
    }
    return std::nullopt;
  }

  json::object doc_error_object(const DocError& e) const {
    json::object err{{"type", parsing_type()}, {"reason", e.reason}};
    if (!e.cause_type.empty()) err["caused_by"] = json::object{{"type", e.cause_type}, {"reason", e.cause_reason}};
    return err;
  }

  // Answers one item; under the lock.
  json::object apply(Item& it, std::size_t& order_counter, std::vector<BulkItemRecord>& records) {
    const std::string name = *it.index;
    BulkItemRecord rec{it.action, name, it.id.value_or(""), 0, "", "", ""};
    auto failure = [&](const std::string& index_field, const std::optional<std::string>& id, int status,
                       json::object error) {
      rec.status = status;
      rec.error_type = std::string(error.at("type").as_string());
      rec.error_reason = std::string(error.at("reason").as_string());
      rec.id = id.value_or("");
      json::object body{{"_index", index_field}};
      body["_id"] = id ? json::value(*id) : json::value(nullptr);
      body["status"] = status;
      body["error"] = std::move(error);
      records.push_back(rec);
      return json::object{{it.action, std::move(body)}};
    };

    if (auto bad = invalid_index_name(name))
      return failure(
          name, it.id, 400,
          json::object{
              {"type", "invalid_index_name_exception"}, {"reason", *bad}, {"index_uuid", "_na_"}, {"index", name}});
    const bool ds = is_data_stream(name);
    if (ds && !it.create)
      return failure(name, it.id, 400,
                     json::object{{"type", "illegal_argument_exception"}, {"reason", kDataStreamOpReason}});
    if (it.pipeline && *it.pipeline != "_none" &&
        std::find(options.pipelines.begin(), options.pipelines.end(), *it.pipeline) == options.pipelines.end())
      return failure(name, it.id, 400,
                     json::object{{"type", "illegal_argument_exception"},
                                  {"reason", "pipeline with id [" + *it.pipeline + "] does not exist"}});
    Index& ix = index_named(name);
    const bool writes_doc = it.action == "create" || it.action == "index";
    if (writes_doc && !it.id) it.id = random_token(rng, 20);
    const std::string id = *it.id;
    const std::size_t column = std::max<std::size_t>(it.source.size(), 1);

    auto success = [&](std::int64_t version, std::string result, int status) {
      rec.status = status;
      rec.result = result;
      rec.id = id;
      json::object body{{"_index", ix.concrete}, {"_id", id}, {"_version", version}, {"result", result}};
      body["_shards"] = json::object{{"total", 2}, {"successful", 1}, {"failed", 0}};
      body["_seq_no"] = ix.seq_no++;
      body["_primary_term"] = 1;
      body["status"] = status;
      records.push_back(rec);
      return json::object{{it.action, std::move(body)}};
    };
    auto store = [&](json::object source, bool counted) {
      auto [d, fresh] = ix.docs.try_emplace(id);
      if (fresh) {
        d->second.order = order_counter++;
        d->second.version = 1;
      } else {
        ++d->second.version;
      }
      d->second.source = std::move(source);
      if (counted) ++accepted[{name, id}];
      return d->second.version;
    };
    auto check_mapping = [&](const json::object& doc) -> std::expected<MappingCheck, DocError> {
      MappingCheck check(ix.mapping, id, column);
      if (auto e = check.document(doc)) return std::unexpected(std::move(*e));
      if (ix.mapping.count + check.added_count() > options.total_fields_limit) {
        const std::string what = "Limit of total fields [" + std::to_string(options.total_fields_limit) +
                                 "] has been exceeded while adding new fields [" + std::to_string(check.added_count()) +
                                 "]";
        return std::unexpected(DocError{check.at() + "failed to parse: " + what, "illegal_argument_exception", what});
      }
      return check;
    };

    if (it.action == "delete") {
      auto d = ix.docs.find(id);
      if (d == ix.docs.end()) return success(1, "not_found", 404);
      const std::int64_t version = d->second.version + 1;
      ix.docs.erase(d);
      return success(version, "deleted", 200);
    }

    if (it.action == "update") {
      if (it.update.contains("script"))
        return failure(ix.concrete, id, 400,
                       json::object{{"type", "illegal_argument_exception"},
                                    {"reason", "[fake] scripted updates are not supported by the fake"}});
      auto d = ix.docs.find(id);
      json::object merged;
      std::string result = "updated";
      int status = 200;
      if (d != ix.docs.end()) {
        merged = d->second.source;
        if (const auto* doc = it.update.if_contains("doc")) merge_into(merged, doc->as_object());
        const auto* noop = it.update.if_contains("detect_noop");
        if (merged == d->second.source && !(noop && noop->is_bool() && !noop->as_bool())) {
          rec.status = 200;
          rec.result = "noop";
          json::object body{{"_index", ix.concrete}, {"_id", id}, {"_version", d->second.version}, {"result", "noop"}};
          body["_shards"] = json::object{{"total", 0}, {"successful", 0}, {"failed", 0}};
          body["_seq_no"] = ix.seq_no - 1;
          body["_primary_term"] = 1;
          body["status"] = 200;
          records.push_back(rec);
          return json::object{{it.action, std::move(body)}};
        }
      } else {
        const auto* as_upsert = it.update.if_contains("doc_as_upsert");
        if (as_upsert && as_upsert->is_bool() && as_upsert->as_bool() && it.update.contains("doc")) {
          merged = it.update.at("doc").as_object();
        } else if (const auto* upsert = it.update.if_contains("upsert")) {
          merged = upsert->as_object();
        } else {
          return failure(ix.concrete, id, 404,
                         json::object{{"type", "document_missing_exception"},
                                      {"reason", "[" + id + "]: document missing"},
                                      {"index_uuid", ix.uuid},
                                      {"shard", "0"},
                                      {"index", ix.concrete}});
        }
        result = "created";
        status = 201;
      }
      auto check = check_mapping(merged);
      if (!check) return failure(ix.concrete, id, 400, doc_error_object(check.error()));
      check->commit(ix.mapping);
      return success(store(std::move(merged), true), result, status);
    }

    // create / index
    if (it.doc_error) return failure(ix.concrete, id, 400, doc_error_object(*it.doc_error));
    if (reject_remaining > 0 || it.reject_match) {
      if (!it.reject_match) --reject_remaining;
      return failure(ix.concrete, id, 429, json::object{{"type", rejected_type()}, {"reason", kRejectedReason}});
    }
    if (ds)
      if (auto e = data_stream_rules(name, *it.doc, id, column))
        return failure(ix.concrete, id, 400, doc_error_object(*e));
    if (it.mapping_match) {
      const std::string reason = mapping_reason.empty()
                                     ? "[1:" + std::to_string(column) +
                                           "] failed to parse field [fake_field] of type [long] in document with id '" +
                                           id + "'. Preview of field's value: 'not a number'"
                                     : mapping_reason;
      return failure(ix.concrete, id, 400,
                     doc_error_object({reason, "illegal_argument_exception", "injected mapping error"}));
    }
    auto check = check_mapping(*it.doc);
    if (!check) return failure(ix.concrete, id, 400, doc_error_object(check.error()));
    const auto existing = ix.docs.find(id);
    if (existing != ix.docs.end() && it.create)
      return failure(
          ix.concrete, id, 409,
          json::object{{"type", "version_conflict_engine_exception"},
                       {"reason", "[" + id + "]: version conflict, document already exists (current version [" +
                                      std::to_string(existing->second.version) + "])"},
                       {"index_uuid", ix.uuid},
                       {"shard", "0"},
                       {"index", ix.concrete}});
    check->commit(ix.mapping);
    const bool replaced = existing != ix.docs.end();
    return success(store(std::move(*it.doc), true), replaced ? "updated" : "created", replaced ? 200 : 201);
  }

  http::Response bulk(const http::Request& req, RecordedRequest& rec, const SplitTarget& target,
                      const std::optional<std::string>& default_index, std::chrono::steady_clock::time_point started) {
    auto decoded = decode_content(req.header("content-encoding"), req.body, options.max_body_bytes);
    if (!decoded) {
      rec.refusal = decoded.error().message;
      if (decoded.error().message.find("exceeds") != std::string::npos) {
        http::Response r = respond(413, json::value(nullptr));
        r.body.clear();
        return r;
      }
      return respond(400, es_error(400, "illegal_argument_exception", decoded.error().message));
    }
    rec.body = std::move(*decoded);
    const std::string& body = rec.body;

    std::string reply_type = "application/json";
    if (!body.empty()) {
      const auto ct = req.header("content-type");
      if (!ct) {
        rec.refusal = "no Content-Type";
        return respond(406, simple_error(406, "Content-Type header is missing"));
      }
      const std::string mt = media_type(*ct);
      const bool vnd = mt.starts_with("application/vnd.elasticsearch+");
      bool ok = mt == "application/x-ndjson" || (!opensearch() && mt == "application/vnd.elasticsearch+x-ndjson") ||
                (options.accept_json_content_type &&
                 (mt == "application/json" || (!opensearch() && mt == "application/vnd.elasticsearch+json")));
      bool compatible = false;
      for (const auto& [k, v] : media_type_params(*ct)) {
        if (k == "charset" && to_lower(v) == "utf-8") continue;
        if (k == "compatible-with" && vnd && (v == "7" || v == "8")) {
          compatible = true;
          reply_type = "application/vnd.elasticsearch+json;compatible-with=" + v;
          continue;
        }
        ok = false;
      }
      if (vnd && !compatible) ok = false;
      if (!ok) {
        rec.refusal = "Content-Type '" + std::string(*ct) + "' is not application/x-ndjson";
        return respond(406, simple_error(406, "Content-Type header [" + std::string(*ct) + "] is not supported"));
      }
    }
    if (body.empty()) {
      rec.refusal = "empty body";
      return respond(400, es_error(400, "parse_exception", "request body is required"));
    }

    std::vector<std::string> unknown;
    std::optional<std::string> pipeline;
    FilterPaths filter;
    for (const auto& [k, v] : target.query) {
      if (!one_of(kBulkParams, k)) {
        unknown.push_back("[" + k + "]");
        continue;
      }
      if (k == "refresh" && v != "" && v != "true" && v != "false" && v != "wait_for")
        return refuse({400, es_error(400, "illegal_argument_exception", "Unknown value for refresh: [" + v + "]."),
                       "bad refresh value"},
                      rec);
      if (k == "pipeline") pipeline = v;
      if (k == "filter_path") {
        for (std::size_t start = 0;;) {
          const auto comma = v.find(',', start);
          const std::string path = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
          std::vector<std::string> segments;
          for (std::size_t s = 0;;) {
            const auto dot = path.find('.', s);
            segments.push_back(path.substr(s, dot == std::string::npos ? std::string::npos : dot - s));
            if (dot == std::string::npos) break;
            s = dot + 1;
          }
          if (!path.empty()) filter.push_back(std::move(segments));
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
      }
    }
    if (!unknown.empty()) {
      std::string list;
      for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
      const std::string reason =
          "request [" + target.path + "] contains unrecognized parameter" + (unknown.size() > 1 ? "s: " : ": ") + list;
      return refuse({400, es_error(400, "illegal_argument_exception", reason), reason}, rec);
    }

    auto parsed = parse_bulk(body, default_index, pipeline);
    if (!parsed) return refuse(parsed.error(), rec);
    std::vector<Item>& items = *parsed;
    if (auto invalid = validate(items)) return refuse(*invalid, rec);

    // Pass 1, outside the lock: documents and the predicates (user code).
    DocumentPredicate reject, mapping;
    {
      std::lock_guard lock(mu);
      reject = reject_predicate;
      mapping = mapping_predicate;
    }
    for (auto& it : items) {
      if (it.action != "create" && it.action != "index") continue;
      auto doc = parse_document(it.source);
      if (!doc) {
        it.doc_error = doc.error();
        continue;
      }
      it.doc = std::move(*doc);
      it.reject_match = reject && reject(*it.doc);
      it.mapping_match = mapping && mapping(*it.doc);
    }

    // Pass 2, under the lock: answer and store.
    json::array answers;
    bool errors = false;
    {
      std::lock_guard lock(mu);
      for (auto& it : items) {
        const std::size_t before = item_records.size();
        json::object answer = apply(it, order_counter, item_records);
        if (item_records.size() > before && !item_records.back().error_type.empty()) errors = true;
        answers.push_back(std::move(answer));
      }
    }
    cv.notify_all();

    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    json::object out;
    if (opensearch()) {
      out["took"] = took.count();
      out["errors"] = errors;
    } else {
      out["errors"] = errors;
      out["took"] = took.count();
    }
    out["items"] = std::move(answers);
    json::value reply = std::move(out);
    if (!filter.empty()) reply = apply_filter(reply, filter).value_or(json::value(json::object{}));
    return respond(200, reply, reply_type);
  }

  http::Response process(const http::Request& req, RecordedRequest& rec, bool& is_bulk,
                         std::chrono::steady_clock::time_point started) {
    auto target = split_target(req.target);
    if (!target) {
      rec.refusal = "malformed request target";
      return respond(400, es_error(400, "illegal_argument_exception", "unable to decode the request target"));
    }
    std::string path = target->path;
    const std::string& prefix = options.path_prefix;
    if (!prefix.empty()) {
      if (path == prefix) {
        path = "/";
      } else if (path.starts_with(prefix + "/")) {
        path = path.substr(prefix.size());
      } else {
        rec.refusal = "outside the path prefix '" + prefix + "'";
        return http::make_response(404, "404 Not Found", "text/plain");
      }
    }
    target->path = path;

    std::optional<std::string> default_index;
    bool root_route = path == "/";
    is_bulk = path == "/_bulk";
    if (!root_route && !is_bulk && path.size() > 7 && path.ends_with("/_bulk")) {
      const std::string_view segment = std::string_view(path).substr(1, path.size() - 7);
      if (!segment.empty() && segment.find('/') == std::string_view::npos) {
        default_index = percent_decode(segment);
        is_bulk = default_index.has_value();
      }
    }
    if (!root_route && !is_bulk) {
      rec.refusal = "no such route";
      return respond(400, simple_error(400, "no handler found for uri [" + path + "] and method [" + req.method + "]"));
    }
    const bool method_ok =
        root_route ? (req.method == "GET" || req.method == "HEAD") : (req.method == "POST" || req.method == "PUT");
    if (!method_ok) {
      rec.refusal = "wrong method";
      const std::string allowed = root_route ? "GET, HEAD" : "POST, PUT";
      http::Response r =
          respond(405, simple_error(405, "Incorrect HTTP method for uri [" + req.target + "] and method [" +
                                             req.method + "], allowed: [" + allowed + "]"));
      r.headers.push_back({"Allow", allowed});
      return r;
    }
    if (is_bulk) {
      std::optional<HttpFault> fault = server->fault_now();
      if (!fault) {
        std::lock_guard lock(mu);
        if (fail_remaining > 0) {
          --fail_remaining;
          fault = fail_fault;
        }
      }
      if (fault) {
        rec.refusal = "injected fault " + std::to_string(fault->status);
        return fault_response(*fault, req.target);
      }
    }
    if (auto denied = check_auth(req, rec)) return *denied;
    if (root_route) return root(req);
    return bulk(req, rec, *target, default_index, started);
  }

  asio::awaitable<http::Response> handle(http::Request req) {
    const auto started = std::chrono::steady_clock::now();
    RecordedRequest rec{req.method, req.target, req.headers, req.body, req.body, 0, "", ""};
    bool bulk_request = false;
    http::Response resp = process(req, rec, bulk_request, started);
    std::chrono::milliseconds wait{0};
    {
      std::lock_guard lock(mu);
      rec.status = resp.status;
      rec.response_body = resp.body;
      entries.push_back({std::move(rec), bulk_request});
      if (bulk_request) wait = delay;
    }
    cv.notify_all();
    if (wait.count() > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, wait);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return resp;
  }

  ElasticOptions options;
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  // Faults.
  int fail_remaining = 0;
  HttpFault fail_fault;
  int reject_remaining = 0;
  DocumentPredicate reject_predicate;
  DocumentPredicate mapping_predicate;
  std::string mapping_reason;
  std::chrono::milliseconds delay{0};
  ElasticAuth auth;
  // What arrived.
  std::vector<Entry> entries;
  std::vector<BulkItemRecord> item_records;
  std::map<std::string, Index> indices;
  std::map<std::pair<std::string, std::string>, int> accepted;
  std::size_t order_counter = 0;
  std::size_t refused = 0;
  std::mt19937_64 rng;
  std::string ds_date;
  std::string cluster_uuid;
  std::uint16_t port = 0;
  // Last: stopped and destroyed first.
  IoThread io;
  std::unique_ptr<FaultableServer> server;
};

FakeElasticsearch::FakeElasticsearch(ElasticOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  Impl* impl = impl_.get();
  http::ServerOptions so;
  so.address = "127.0.0.1";
  so.port = 0;
  so.max_body_bytes = impl->options.max_body_bytes;
  so.on_refused = [impl](int, std::string_view) {
    std::lock_guard lock(impl->mu);
    ++impl->refused;
  };
  auto server = FaultableServer::start(impl->io.io(), std::move(so),
                                       [impl](http::Request r) { return impl->handle(std::move(r)); });
  if (!server) throw std::runtime_error("FakeElasticsearch: " + server.error().message);
  impl->server = std::move(*server);
  impl->port = impl->server->port();
  impl->io.start();
}

FakeElasticsearch::~FakeElasticsearch() {
  impl_->io.run_on_io([this] { impl_->server.reset(); });
  impl_->io.stop();
}

std::uint16_t FakeElasticsearch::port() const {
  return impl_->port;
}
std::string FakeElasticsearch::url() const {
  return "http://" + host() + impl_->options.path_prefix;
}
std::string FakeElasticsearch::host() const {
  return "127.0.0.1:" + std::to_string(impl_->port);
}

void FakeElasticsearch::fail_next_requests(int n, HttpFault fault) {
  std::lock_guard lock(impl_->mu);
  impl_->fail_remaining = n;
  impl_->fail_fault = std::move(fault);
}
void FakeElasticsearch::fail_while(std::function<bool()> predicate, HttpFault fault) {
  impl_->server->fail_while(std::move(predicate), std::move(fault));
}
void FakeElasticsearch::refuse_connections_while(std::function<bool()> predicate) {
  impl_->server->refuse_connections_while(std::move(predicate));
}
void FakeElasticsearch::reject_next_items(int k) {
  std::lock_guard lock(impl_->mu);
  impl_->reject_remaining = k;
}
void FakeElasticsearch::reject_items_where(DocumentPredicate predicate) {
  std::lock_guard lock(impl_->mu);
  impl_->reject_predicate = std::move(predicate);
}
void FakeElasticsearch::mapping_error_where(DocumentPredicate predicate, std::string reason) {
  std::lock_guard lock(impl_->mu);
  impl_->mapping_predicate = std::move(predicate);
  impl_->mapping_reason = std::move(reason);
}
void FakeElasticsearch::set_response_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(impl_->mu);
  impl_->delay = delay;
}
void FakeElasticsearch::set_auth(ElasticAuth auth) {
  std::lock_guard lock(impl_->mu);
  impl_->auth = std::move(auth);
}
void FakeElasticsearch::clear_faults() {
  impl_->server->clear_faults();
  std::lock_guard lock(impl_->mu);
  impl_->fail_remaining = 0;
  impl_->reject_remaining = 0;
  impl_->reject_predicate = nullptr;
  impl_->mapping_predicate = nullptr;
  impl_->mapping_reason.clear();
  impl_->delay = std::chrono::milliseconds(0);
}

std::vector<RecordedRequest> FakeElasticsearch::requests() const {
  std::lock_guard lock(impl_->mu);
  std::vector<RecordedRequest> out;
  for (const auto& e : impl_->entries) out.push_back(e.request);
  return out;
}
std::vector<RecordedRequest> FakeElasticsearch::bulk_requests() const {
  std::lock_guard lock(impl_->mu);
  std::vector<RecordedRequest> out;
  for (const auto& e : impl_->entries)
    if (e.bulk) out.push_back(e.request);
  return out;
}
std::vector<BulkItemRecord> FakeElasticsearch::items() const {
  std::lock_guard lock(impl_->mu);
  return impl_->item_records;
}

std::vector<StoredDocument> FakeElasticsearch::documents(std::string_view index) const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::pair<std::uint64_t, StoredDocument>> docs;
  const auto it = impl_->indices.find(std::string(index));
  if (it == impl_->indices.end()) return {};
  for (const auto& [id, d] : it->second.docs) docs.push_back({d.order, {it->first, id, d.version, d.source}});
  std::sort(docs.begin(), docs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<StoredDocument> out;
  for (auto& [order, d] : docs) out.push_back(std::move(d));
  return out;
}
std::vector<StoredDocument> FakeElasticsearch::all_documents() const {
  std::vector<StoredDocument> out;
  for (const auto& name : indices())
    for (auto& d : documents(name)) out.push_back(std::move(d));
  return out;
}
std::size_t FakeElasticsearch::document_count() const {
  std::lock_guard lock(impl_->mu);
  std::size_t n = 0;
  for (const auto& [name, ix] : impl_->indices) n += ix.docs.size();
  return n;
}
std::vector<std::string> FakeElasticsearch::indices() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [name, ix] : impl_->indices) out.push_back(name);
  return out;
}
int FakeElasticsearch::times_accepted(std::string_view index, std::string_view id) const {
  std::lock_guard lock(impl_->mu);
  const auto it = impl_->accepted.find({std::string(index), std::string(id)});
  return it == impl_->accepted.end() ? 0 : it->second;
}
std::vector<std::pair<std::string, std::string>> FakeElasticsearch::duplicates() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, n] : impl_->accepted)
    if (n > 1) out.push_back(key);
  return out;
}
std::size_t FakeElasticsearch::refused_by_server() const {
  std::lock_guard lock(impl_->mu);
  return impl_->refused;
}

bool FakeElasticsearch::wait_for_documents(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return wait_for(impl_->cv, lock, timeout, [&] {
    std::size_t count = 0;
    for (const auto& [name, ix] : impl_->indices) count += ix.docs.size();
    return count >= n;
  });
}
bool FakeElasticsearch::wait_for_bulk_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return wait_for(impl_->cv, lock, timeout, [&] {
    return static_cast<std::size_t>(std::count_if(impl_->entries.begin(), impl_->entries.end(),
                                                  [](const Impl::Entry& e) { return e.bulk; })) >= n;
  });
}

void FakeElasticsearch::clear() {
  std::lock_guard lock(impl_->mu);
  impl_->entries.clear();
  impl_->item_records.clear();
  impl_->indices.clear();
  impl_->accepted.clear();
  impl_->refused = 0;
}

}  // namespace elk::fakes
