#include "pipeline/enrich.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/time.h"

namespace elk::pipeline {
namespace {

namespace json = boost::json;

std::string_view string_field(const json::value& v, std::string_view key) {
  if (const auto* o = v.if_object())
    if (const auto* f = o->if_contains(key); f && f->is_string()) return f->get_string();
  return {};
}

std::string strip_trailing_newlines(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

Document Enricher::enrich(const telemetry::Event& ev) {
  const bool is_log = ev.type == "function" || ev.type == "extension";
  std::string request_id(string_field(ev.record, "requestId"));
  if (request_id.empty()) request_id = std::string(string_field(ev.record, "AWSRequestId"));
  if (ev.type == "platform.start" && !request_id.empty()) current_request_ = request_id;
  if (request_id.empty() && ev.type == "function") request_id = current_request_;

  json::object doc;
  doc["@timestamp"] = format_iso8601_ms(ev.time_ms);
  std::string message;
  if (const auto* s = ev.record.if_string()) {
    message = strip_trailing_newlines(*s);
  } else if (is_log && !string_field(ev.record, "message").empty()) {
    message = std::string(string_field(ev.record, "message"));
  } else if (!ev.record.is_null()) {
    message = json::serialize(ev.record);
  }
  doc["message"] = message;
  doc["event"] = {{"dataset", "aws.lambda"}, {"kind", ev.type == "platform.report" ? "metric" : "event"},
                  {"action", ev.type}};
  json::object faas{{"name", context_.function_name}, {"version", context_.function_version}};
  if (!request_id.empty()) faas["execution"] = request_id;
  doc["faas"] = std::move(faas);
  json::object cloud{{"provider", "aws"}, {"region", context_.region}, {"service", {{"name", "lambda"}}}};
  if (!context_.account_id.empty()) cloud["account"] = {{"id", context_.account_id}};
  doc["cloud"] = std::move(cloud);
  if (!is_log && ev.record.is_object()) doc["aws"] = {{"lambda", {{ev.type, ev.record}}}};

  if (ev.type == "platform.runtimeDone") current_request_.clear();
  return Document{json::serialize(doc), ev.time_ms};
}

}  // namespace elk::pipeline
