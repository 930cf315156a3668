#include "sources/cloudwatch/records.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "core/time.h"

namespace elk::cloudwatch {
namespace {

namespace json = boost::json;
using json_tape::JsonNode;

constexpr std::string_view lambda_group_prefix = "/aws/lambda/";

bool digits(std::string_view s) {
  for (const char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}

}  // namespace

std::optional<std::string_view> function_of_group(std::string_view log_group) {
  if (!log_group.starts_with(lambda_group_prefix) || log_group.size() == lambda_group_prefix.size())
    return std::nullopt;
  return log_group.substr(lambda_group_prefix.size());
}

std::optional<LambdaStream> lambda_stream(std::string_view s) {
  if (s.size() < 14 || !digits(s.substr(0, 4)) || s[4] != '/' || !digits(s.substr(5, 2)) || s[7] != '/' ||
      !digits(s.substr(8, 2)) || s[10] != '/')
    return std::nullopt;
  const auto open = s.find('[', 11);
  if (open == std::string_view::npos) return std::nullopt;
  const auto close = s.find(']', open + 1);
  if (close == std::string_view::npos || close == open + 1 || close + 1 == s.size()) return std::nullopt;
  const auto function = s.substr(11, open - 11);
  if (function.find('/') != std::string_view::npos) return std::nullopt;
  return LambdaStream{function, s.substr(open + 1, close - open - 1)};
}

std::string_view version_of_stream(std::string_view s) {
  const auto stream = lambda_stream(s);
  return stream ? stream->version : std::string_view();
}

pipeline::SourceContext source_of(const Payload& payload, std::string_view region) {
  pipeline::SourceContext source;
  const auto stream = lambda_stream(payload.log_stream);
  if (const auto name = function_of_group(payload.log_group)) {
    source.function.function_name = std::string(*name);
    if (stream) source.function.function_version = std::string(stream->version);
  } else if (stream && !stream->function.empty()) {  // a custom log group: the stream names its function
    source.function.function_name = std::string(stream->function);
    source.function.function_version = std::string(stream->version);
  }
  source.function.region = std::string(region);
  source.function.account_id = payload.owner;
  source.stream = payload.log_group + '\n' + payload.log_stream;
  source.log_group = payload.log_group;
  source.log_stream = payload.log_stream;
  return source;
}

std::vector<pipeline::Record> records_of(const Payload& payload) {
  // The events' texts stay where the payload's parse put them: the storage keeps that alive, and holds only the
  // times written here and what JSON-format messages are parsed into.
  auto storage = std::make_shared<json_tape::RecordStorage>(payload.events.size() * iso8601_ms_length);
  storage->keep_alive = payload.document;
  std::vector<pipeline::Record> records(payload.events.size());
  std::vector<std::size_t> body_at(payload.events.size());
  json::monotonic_resource memory;
  Iso8601MsWriter time_writer;
  for (std::size_t i = 0; i < payload.events.size(); ++i) {
    const auto& e = payload.events[i];
    auto& r = records[i];
    r.id = e.id;
    r.time_ms = EpochMs{e.timestamp};
    char* time_text = storage->allocate(iso8601_ms_length);
    time_writer.write(r.time_ms, time_text);
    r.time = std::string_view(time_text, iso8601_ms_length);
    r.type = pipeline::Record::Type::function;
    r.type_name = "function";
    body_at[i] = storage->nodes.size();
    // The JSON log format: a function record, or a platform event as {"time","type","record"}.
    const auto first = e.message.find_first_not_of(" \t");
    if (first != std::string::npos && e.message[first] == '{') {
      boost::system::error_code ec;
      const auto v = json::parse(e.message, ec, &memory);
      if (!ec && v.is_object()) {
        const auto& o = v.get_object();
        const auto* type = o.if_contains("type");
        const auto* record = o.if_contains("record");
        if (type != nullptr && type->is_string() && type->get_string().starts_with("platform.") && record != nullptr) {
          r.type = pipeline::Record::Type::platform;
          r.type_name = storage->copy(type->get_string());
          if (const auto* t = o.if_contains("time"); t != nullptr && t->is_string()) {
            r.time = storage->copy(t->get_string());
            if (const auto ms = parse_iso8601(r.time)) r.time_ms = *ms;
          }
          storage->append(*record);
        } else {
          storage->append(v);
        }
        continue;
      }
    }
    JsonNode n;
    n.kind = JsonNode::Kind::string, n.text = e.message.data(), n.size = e.message.size();
    storage->nodes.push_back(n);
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    records[i].body = json_tape::JsonView(storage->nodes.data() + body_at[i]);
    records[i].storage = storage;
  }
  return records;
}

}  // namespace elk::cloudwatch
