#include "http/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "http/beast_convert.h"

namespace elk::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_response_body = 64 * 1024 * 1024;

ClientError to_error(ClientError::Kind kind, const Endpoint& ep, std::string_view what,
                     const beast::error_code& ec) {
  if (ec == beast::error::timeout) kind = ClientError::Kind::timeout;
  return {kind, std::string(what) + " " + ep.host + ":" + std::to_string(ep.port) + ": " + ec.message()};
}

}  // namespace

asio::awaitable<ClientResult<Response>> send(const Endpoint& endpoint, Request request,
                                             std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  auto arm = [&] {
    if (timeout.count() > 0) stream.expires_after(timeout);
    else stream.expires_never();
  };

  tcp::resolver resolver(executor);
  auto [rec, results] = co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), use_tuple);
  if (rec) co_return std::unexpected(to_error(ClientError::Kind::connect, endpoint, "cannot resolve", rec));

  arm();
  auto [cec, cep] = co_await stream.async_connect(results, use_tuple);
  (void)cep;
  if (cec) co_return std::unexpected(to_error(ClientError::Kind::connect, endpoint, "cannot connect to", cec));

  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(request.method), request.target, 11};
  req.set(bhttp::field::host, endpoint.host + ":" + std::to_string(endpoint.port));
  detail::add_headers(req, request.headers);
  req.body() = std::move(request.body);
  req.prepare_payload();
  auto [wec, wn] = co_await bhttp::async_write(stream, req, use_tuple);
  (void)wn;
  if (wec) co_return std::unexpected(to_error(ClientError::Kind::io, endpoint, "cannot send to", wec));

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(max_response_body);
  auto [rdec, rn] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
  (void)rn;
  if (rdec) co_return std::unexpected(to_error(ClientError::Kind::io, endpoint, "no answer from", rdec));

  auto res = parser.release();
  Response out;
  out.status = static_cast<int>(res.result_int());
  out.headers = detail::to_headers(res);
  out.body = std::move(res.body());
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return out;
}

}  // namespace elk::http
