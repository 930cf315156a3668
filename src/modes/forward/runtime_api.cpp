#include "modes/forward/runtime_api.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "http/client.h"

namespace elk::forward {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr auto call_timeout = 5s;  // every call but next
constexpr std::string_view base = "/2018-06-01/runtime";

std::string describe(const http::Response& r) {
  std::string body = r.body.substr(0, 300);
  return "HTTP " + std::to_string(r.status) + (body.empty() ? "" : ": " + body);
}

}  // namespace

boost::asio::awaitable<Result<Invocation>> RuntimeApi::next() {
  http::Request req;
  req.method = "GET";
  req.target = std::string(base) + "/invocation/next";
  auto res = co_await http::send(api_, std::move(req), std::chrono::milliseconds::zero(), max_event_bytes);
  if (!res) co_return fail("invocation/next failed: " + res.error().message);
  if (res->status != 200) co_return fail("invocation/next answered " + describe(*res));
  Invocation inv;
  inv.request_id = std::string(res->header(request_id_header).value_or(""));
  if (inv.request_id.empty()) co_return fail("invocation/next answered without a " + std::string(request_id_header));
  if (const auto d = res->header(deadline_header)) {
    std::int64_t ms = 0;
    const auto [end, ec] = std::from_chars(d->data(), d->data() + d->size(), ms);
    if (ec == std::errc{} && end == d->data() + d->size()) inv.deadline = EpochMs{ms};
  }
  inv.function_arn = std::string(res->header(function_arn_header).value_or(""));
  inv.trace_id = std::string(res->header(trace_id_header).value_or(""));
  inv.event = std::move(res->body);
  co_return inv;
}

boost::asio::awaitable<Status> RuntimeApi::post(std::string target, std::string body, std::string_view error_type) {
  http::Request req;
  req.method = "POST";
  req.target = std::move(target);
  req.headers = {{"Content-Type", "application/json"}};
  if (!error_type.empty()) req.headers.push_back({std::string(function_error_type_header), std::string(error_type)});
  req.body = std::move(body);
  const std::string what = req.target;
  auto res = co_await http::send(api_, std::move(req), call_timeout);
  if (!res) co_return fail("POST " + what + " failed: " + res.error().message);
  if (res->status >= 300) co_return fail("POST " + what + " answered " + describe(*res));
  co_return Status{};
}

boost::asio::awaitable<Status> RuntimeApi::respond(std::string_view request_id, std::string body) {
  co_return co_await post(std::string(base) + "/invocation/" + std::string(request_id) + "/response", std::move(body),
                          {});
}

namespace {
std::string error_body(std::string_view error_type, std::string_view message) {
  return json::serialize(
      json::object{{"errorMessage", message}, {"errorType", error_type}, {"stackTrace", json::array{}}});
}
}  // namespace

boost::asio::awaitable<Status> RuntimeApi::error(std::string_view request_id, std::string_view error_type,
                                                 std::string_view message) {
  co_return co_await post(std::string(base) + "/invocation/" + std::string(request_id) + "/error",
                          error_body(error_type, message), error_type);
}

boost::asio::awaitable<Status> RuntimeApi::init_error(std::string_view error_type, std::string_view message) {
  co_return co_await post(std::string(base) + "/init/error", error_body(error_type, message), error_type);
}

}  // namespace elk::forward
