#include "modes/extension/extensions_api.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>

#include "http/client.h"

namespace elk::extension {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr auto call_timeout = 5s;  // every call but event/next

std::string_view str(const json::object& o, std::string_view key) {
  if (const auto* v = o.if_contains(key); v && v->is_string()) return v->get_string();
  return {};
}

std::string describe(const http::Response& r) {
  std::string body = r.body.substr(0, 300);
  return "HTTP " + std::to_string(r.status) + (body.empty() ? "" : ": " + body);
}

}  // namespace

Result<LifecycleEvent> parse_lifecycle_event(std::string_view body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return fail("event/next answered with a body that is not a JSON object");
  const auto& o = v.as_object();
  LifecycleEvent ev{};
  const auto type = str(o, "eventType");
  if (type == "INVOKE")
    ev.kind = LifecycleEvent::Kind::invoke;
  else if (type == "SHUTDOWN")
    ev.kind = LifecycleEvent::Kind::shutdown;
  else
    return fail("event/next answered with an unknown eventType '" + std::string(type) + "'");
  if (const auto* d = o.if_contains("deadlineMs"); d && d->is_number()) {
    constexpr double limit = 9007199254740992.0;  // 2^53: every integer below it is a double
    if (d->is_int64()) {
      ev.deadline = EpochMs{d->get_int64()};
    } else if (d->is_uint64()) {
      ev.deadline = EpochMs{static_cast<std::int64_t>(limit)};
    } else {
      ev.deadline = EpochMs{static_cast<std::int64_t>(std::clamp(std::round(d->get_double()), -limit, limit))};
    }
  }
  ev.request_id = RequestId{std::string(str(o, "requestId"))};
  ev.invoked_function_arn = std::string(str(o, "invokedFunctionArn"));
  ev.shutdown_reason = std::string(str(o, "shutdownReason"));
  return ev;
}

boost::asio::awaitable<Result<Registration>> ExtensionsApi::register_extension(std::string_view name) {
  http::Request req;
  req.method = "POST";
  req.target = "/2020-01-01/extension/register";
  req.headers = {{std::string(extension_name_header), std::string(name)},
                 {std::string(accept_feature_header), "accountId"},
                 {"Content-Type", "application/json"}};
  req.body = R"({"events":["INVOKE","SHUTDOWN"]})";
  auto res = co_await http::send(api_, std::move(req), call_timeout);
  if (!res) co_return fail("cannot register with the Extensions API: " + res.error().message);
  if (res->status != 200) co_return fail("the Extensions API refused registration: " + describe(*res));
  const auto id = res->header(extension_id_header);
  if (!id || id->empty()) co_return fail("the Extensions API registered us without a Lambda-Extension-Identifier");
  Registration reg{ExtensionId{std::string(*id)}, {}, {}, {}};
  boost::system::error_code ec;
  auto v = json::parse(res->body, ec);
  if (!ec && v.is_object()) {
    reg.function_name = std::string(str(v.as_object(), "functionName"));
    reg.function_version = std::string(str(v.as_object(), "functionVersion"));
    reg.account_id = std::string(str(v.as_object(), "accountId"));
  }
  co_return reg;
}

boost::asio::awaitable<Result<LifecycleEvent>> ExtensionsApi::next(const ExtensionId& id) {
  http::Request req;
  req.method = "GET";
  req.target = "/2020-01-01/extension/event/next";
  req.headers = {{std::string(extension_id_header), id.value}};
  auto res = co_await http::send(api_, std::move(req), std::chrono::milliseconds::zero());
  if (!res) co_return fail("event/next failed: " + res.error().message);
  if (res->status != 200) co_return fail("event/next answered " + describe(*res));
  co_return parse_lifecycle_event(res->body);
}

boost::asio::awaitable<Status> ExtensionsApi::report_error(const ExtensionId& id, std::string_view path,
                                                           std::string_view error_type, std::string_view message) {
  http::Request req;
  req.method = "POST";
  req.target = std::string(path);
  req.headers = {{std::string(extension_id_header), id.value},
                 {std::string(error_type_header), std::string(error_type)},
                 {"Content-Type", "application/json"}};
  req.body = json::serialize(
      json::object{{"errorMessage", message}, {"errorType", error_type}, {"stackTrace", json::array{}}});
  auto res = co_await http::send(api_, std::move(req), call_timeout);
  if (!res) co_return fail("cannot report the error to Lambda: " + res.error().message);
  if (res->status >= 300) co_return fail("Lambda did not take the error report: " + describe(*res));
  co_return Status{};
}

boost::asio::awaitable<Status> ExtensionsApi::init_error(const ExtensionId& id, std::string_view error_type,
                                                         std::string_view message) {
  co_return co_await report_error(id, "/2020-01-01/extension/init/error", error_type, message);
}

boost::asio::awaitable<Result<SubscribeAnswer>> ExtensionsApi::subscribe(const ExtensionId& id, std::string path,
                                                                         std::string body) {
  http::Request req;
  req.method = "PUT";
  req.target = std::move(path);
  req.headers = {{std::string(extension_id_header), id.value}, {"Content-Type", "application/json"}};
  req.body = std::move(body);
  auto res = co_await http::send(api_, std::move(req), call_timeout);
  if (!res) co_return fail("cannot subscribe: " + res.error().message);
  co_return SubscribeAnswer{res->status, res->body};
}

}  // namespace elk::extension
