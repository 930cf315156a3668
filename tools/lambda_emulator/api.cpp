#include "api.h"

#include <algorithm>
#include <boost/json.hpp>
#include <exception>
#include <string>
#include <string_view>

namespace elk::emulator {
namespace {

namespace json = boost::json;

// Protocol constants, named once.
constexpr std::string_view kRegisterPath = "/2020-01-01/extension/register";
constexpr std::string_view kNextPath = "/2020-01-01/extension/event/next";
constexpr std::string_view kInitErrorPath = "/2020-01-01/extension/init/error";
constexpr std::string_view kExitErrorPath = "/2020-01-01/extension/exit/error";
constexpr std::string_view kTelemetryPath = "/2022-07-01/telemetry";
constexpr std::string_view kLogsPath = "/2020-08-15/logs";
constexpr std::string_view kNameHeader = "Lambda-Extension-Name";
constexpr std::string_view kIdHeader = "Lambda-Extension-Identifier";
constexpr std::string_view kEventIdHeader = "Lambda-Extension-Event-Identifier";
constexpr std::string_view kFeatureHeader = "Lambda-Extension-Accept-Feature";
constexpr std::string_view kErrorTypeHeader = "Lambda-Extension-Function-Error-Type";

http::Response error_response(int status, std::string_view type, std::string_view message) {
  return http::make_response(status, json::serialize(json::object{{"errorMessage", message}, {"errorType", type}}));
}

http::Response not_allowed(const http::Request& req) {
  return error_response(405, "MethodNotAllowed", req.method + " is not allowed on " + req.target);
}

}  // namespace

asio::awaitable<http::Response> ExtensionsApi::handle(http::Request req) {
  std::string_view path = req.target;
  path = path.substr(0, path.find('?'));
  try {
    if (path == kRegisterPath) co_return req.method == "POST" ? on_register(req) : not_allowed(req);
    if (path == kNextPath) {
      if (req.method != "GET") co_return not_allowed(req);
      auto e = authenticate(req);
      if (!e) co_return e.error();
      co_return co_await on_next(**e);
    }
    if (path == kInitErrorPath || path == kExitErrorPath)
      co_return req.method == "POST" ? on_error(req, path == kInitErrorPath) : not_allowed(req);
    if (path == kTelemetryPath) {
      if (!options_.telemetry_api)
        co_return error_response(404, "Telemetry.NotSupported", "the Telemetry API is off (--telemetry-api off)");
      co_return req.method == "PUT" ? on_subscribe(req, Api::telemetry) : not_allowed(req);
    }
    if (path == kLogsPath) co_return req.method == "PUT" ? on_subscribe(req, Api::logs) : not_allowed(req);
    co_return error_response(404, "NotFound", "no such API: " + req.method + " " + req.target);
  } catch (const std::exception& ex) {
    log_.error("internal error answering " + req.method + " " + req.target + ": " + ex.what());
  }
  co_return error_response(500, "ServiceException", "internal error in the emulator");
}

std::expected<Extension*, http::Response> ExtensionsApi::authenticate(const http::Request& req) {
  const auto id = req.header(kIdHeader);
  if (!id || id->empty())
    return std::unexpected(
        error_response(403, "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header"));
  for (auto& e : extensions_)
    if (!e.id.empty() && e.id == *id) return &e;
  return std::unexpected(
      error_response(403, "Extension.UnknownExtensionIdentifier", "Unknown extension " + std::string(*id)));
}

http::Response ExtensionsApi::on_register(const http::Request& req) {
  const std::string name(req.header(kNameHeader).value_or(""));
  if (name.empty()) return error_response(403, "Extension.InvalidExtensionName", "Empty extension name");
  boost::system::error_code ec;
  const json::value body = json::parse(req.body, ec);
  if (ec || !body.is_object())
    return error_response(403, "InvalidRequestFormat",
                          "the body must be a JSON object such as {\"events\":[\"INVOKE\",\"SHUTDOWN\"]}");
  const auto& o = body.get_object();
  if (const auto* keys = o.if_contains("configurationKeys"); keys && keys->is_array() && !keys->get_array().empty())
    return error_response(403, "InvalidRequestFormat",
                          "configurationKeys are deprecated; use environment variables instead");
  std::vector<std::string> events;
  if (const auto* ev = o.if_contains("events"); ev && !ev->is_null()) {
    if (!ev->is_array()) return error_response(403, "InvalidRequestFormat", "events must be an array");
    for (const auto& v : ev->get_array()) {
      if (!v.is_string() || (v.get_string() != "INVOKE" && v.get_string() != "SHUTDOWN"))
        return error_response(403, "Extension.InvalidEventType",
                              json::serialize(v) + ": external extensions may register for INVOKE and SHUTDOWN");
      if (std::find(events.begin(), events.end(), v.get_string()) == events.end()) events.emplace_back(v.get_string());
    }
  }
  auto it = std::find_if(extensions_.begin(), extensions_.end(), [&](const auto& e) { return e.name == name; });
  if (it == extensions_.end())
    return error_response(403, "Extension.InvalidExtensionName",
                          "no executable named '" + name + "' in " + options_.extensions_dir.string() +
                              " (Lambda-Extension-Name must be the file name)");
  Extension& e = *it;
  if (registration_closed_)
    return error_response(403, "Extension.RegistrationClosed", "Extension registration closed already");
  if (!e.id.empty())
    return error_response(403, "Extension.InvalidExtensionState", "Extension " + name + " is already registered");
  e.id = make_uuid(rng_);
  e.events = std::move(events);
  e.registered_at = Clock::now();
  wake_.notify();
  log_.info(name + " registered after " + std::to_string(us_between(e.spawned, *e.registered_at)) + " us");

  json::object answer{{"functionName", options_.function.function_name},
                      {"functionVersion", kFunctionVersion},
                      {"handler", "index.handler"}};
  std::string_view features = req.header(kFeatureHeader).value_or("");
  while (!features.empty()) {
    auto item = features.substr(0, features.find(','));
    features.remove_prefix(std::min(features.size(), item.size() + 1));
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "accountId") answer["accountId"] = kAccountId;
  }
  auto resp = http::make_response(200, json::serialize(answer));
  resp.headers.push_back({std::string(kIdHeader), e.id});
  return resp;
}

asio::awaitable<http::Response> ExtensionsApi::on_next(Extension& e) {
  const auto now = Clock::now();
  if (!e.first_next_at) {
    e.first_next_at = now;  // Ready: its init is over and its subscriptions are closed
    telemetry_.emit("platform.extension", extension_record(e.name, e.events));
    log_.info(e.name + " ready after " + std::to_string(us_between(e.spawned, now)) + " us");
  }
  if (e.busy) {
    e.busy = false;
    if (e.invocation > 0) e.post_invoke_next.try_emplace(e.invocation, now);
  }
  wake_.notify();
  if (e.shutdown_taken) {
    for (;;) co_await wake_.wait();  // a next after SHUTDOWN is never answered
  }
  while (!e.pending) co_await wake_.wait();
  Pending p = std::move(*e.pending);
  e.pending.reset();
  e.busy = true;
  if (p.shutdown)
    e.shutdown_taken = true;
  else
    e.invocation = p.invocation;
  auto resp = http::make_response(200, std::move(p.body));
  resp.headers.push_back({std::string(kEventIdHeader), make_uuid(rng_)});
  co_return resp;
}

http::Response ExtensionsApi::on_error(const http::Request& req, bool init) {
  auto e = authenticate(req);
  if (!e) return e.error();
  const auto type = req.header(kErrorTypeHeader);
  if (!type || type->empty())
    return error_response(403, "Extension.MissingHeader", std::string(kErrorTypeHeader) + " not found");
  Extension& ext = **e;
  if (init && ext.first_next_at)
    return error_response(403, "Extension.InvalidExtensionState",
                          "Extension " + ext.name + " is past init (it called next); use exit/error");
  (init ? record_.init_errors : record_.exit_errors).push_back({ext.name, std::string(*type), req.body});
  if (init) ext.init_error = true;
  log_.error(ext.name + " posted " + (init ? "init" : "exit") + "/error " + std::string(*type) +
             (req.body.empty() ? "" : ": " + req.body));
  wake_.notify();
  return http::make_response(202, R"({"status":"OK"})");
}

http::Response ExtensionsApi::on_subscribe(const http::Request& req, Api api) {
  auto found = authenticate(req);
  if (!found) return found.error();
  Extension& e = **found;
  const std::string prefix = api == Api::telemetry ? "Telemetry" : "Logs";
  const std::string validation = api == Api::telemetry ? "ValidationError" : "Logs.ValidationError";
  if (e.first_next_at)
    return error_response(403, prefix + ".SubscriptionClosed",
                          prefix + " API is no longer accepting subscriptions: " + e.name + " already called next");
  auto parsed = parse_subscription(api, req.body);
  if (!parsed) {
    log_.info(e.name + ": " + prefix + " subscription refused (400): " + parsed.error().message);
    return error_response(400, validation, parsed.error().message);
  }
  if (e.subscriber && e.subscriber->sub.api != api)
    return error_response(400, validation,
                          e.name + " already subscribed to the " + std::string(api_name(e.subscriber->sub.api)) +
                              " API; subscribing to both fails");
  boost::system::error_code ec;
  record_.subscriptions.push_back(
      json::object{{"extension", e.name}, {"api", api_name(api)}, {"body", json::parse(req.body, ec)}});

  // Subscribing again replaces the settings; a new subscriber receives everything since the environment started,
  // initStart included.
  e.subscriber = &telemetry_.subscribe(e.subscriber, e.name, std::move(*parsed));
  const Subscription& s = e.subscriber->sub;
  telemetry_.emit(api == Api::telemetry ? "platform.telemetrySubscription" : "platform.logsSubscription",
                  subscription_record(e.name, s.types));
  log_.info(e.name + " subscribed to the " + std::string(api_name(api)) + " API, delivery to 127.0.0.1:" +
            std::to_string(s.port) + s.target + ", buffering " + std::to_string(s.max_items) + " items / " +
            std::to_string(s.max_bytes) + " bytes / " + std::to_string(s.timeout.count()) + " ms");
  return http::make_response(200, "\"OK\"");
}

}  // namespace elk::emulator
