#include "destinations/logstash.h"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>

#include "core/base64.h"
#include "core/signal.h"
#include "destinations/ndjson.h"
#include "http/client.h"
#include "http/tls.h"
#include "http/tls_context.h"
#include "http/url.h"

namespace elk::destinations {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using config::Kind;
using config::no_choices;
using config::OnInvalid;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

constexpr std::string_view url_setting = "EXTENSION_LOG_DESTINATION_LOGSTASH_URL";
constexpr std::string_view username_setting = "EXTENSION_LOG_DESTINATION_LOGSTASH_USERNAME";
constexpr std::string_view password_setting = "EXTENSION_LOG_DESTINATION_LOGSTASH_PASSWORD";
constexpr std::string_view ca_file_setting = "EXTENSION_LOG_DESTINATION_LOGSTASH_CA_FILE";

constexpr config::Setting settings[] = {
    {url_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject,
     "http(s)://host:port[/path] for the `http` input (json_lines as application/x-ndjson), or tcp://host:port / "
     "tls://host:port for the `tcp` input with codec json_lines (schemes in any case). Credentials go in their own "
     "settings: a URL with user:password@ is refused at init, and never printed.",
     "logstash", true},
    {username_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject, "User for the http input's basic auth.",
     "logstash"},
    {password_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject,
     "Password for the http input's basic auth.", "logstash"},
    {ca_file_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject,
     "PEM file of a private CA that signed Logstash's certificate (https:// and tls://).", "logstash"},
};

std::string body_of(const buffer::Batch& batch) {
  std::string body;
  body.reserve(batch.bytes + batch.documents.size());
  append_ndjson(batch, 0, body);
  return body;
}

class LogstashHttp final : public Destination {
 public:
  LogstashHttp(std::unique_ptr<http::Client> client, std::string authorization)
      : client_(std::move(client)), authorization_(std::move(authorization)) {}
  std::string_view name() const override { return "logstash"; }

  // The batch in requests of at most accepted_bytes_ (unbounded until an answer 413 says otherwise).
  asio::awaitable<SendResult> send(const buffer::Batch& batch, SteadyTime deadline) override {
    SendResult total = SendResult::ok();
    std::size_t begin = 0;
    while (begin < batch.documents.size()) {
      std::string body;
      const std::size_t end = append_ndjson(batch, begin, body, accepted_bytes_);
      const std::size_t body_bytes = body.size();
      auto [r, status] = co_await post(std::move(body), deadline);
      if (status == 413) {
        // A proxy's or the input's body limit below this request: smaller requests from now on; a document
        // too large alone is refused for good (dead letter).
        if (end - begin == 1) {
          total.rejected.push_back(begin);
          total.message =
              r.message + ": a document of " + std::to_string(body_bytes) + " bytes is larger than it accepts";
          begin = end;
          continue;
        }
        accepted_bytes_ = std::max<std::size_t>(body_bytes / 2, 1);
        continue;
      }
      if (r.kind != SendResult::Kind::ok) {
        if (begin == 0 && total.rejected.empty()) co_return r;
        total.kind = SendResult::Kind::partial;
        total.message = r.message;
        total.retry_after = r.retry_after;
        for (std::size_t i = begin; i < batch.documents.size(); ++i)
          (r.kind == SendResult::Kind::permanent ? total.rejected : total.failed).push_back(i);
        if (total.failed.empty()) total.kind = SendResult::Kind::ok;  // only refusals: nothing to retry
        co_return total;
      }
      begin = end;
    }
    co_return total;
  }

 private:
  // One POST of `body`, and the status it answered (0: none).
  asio::awaitable<std::pair<SendResult, int>> post(std::string body, SteadyTime deadline) {
    http::Request req;
    req.method = "POST";
    req.target = client_->origin().path.empty() ? "/" : client_->origin().path;
    req.headers.push_back({"Content-Type", "application/x-ndjson"});
    if (!authorization_.empty()) req.headers.push_back({"Authorization", authorization_});
    req.body = std::move(body);
    auto res = co_await client_->send(std::move(req), deadline);
    const std::string where = "POST " + client_->origin().origin();
    if (!res) co_return std::pair{SendResult::retryable(where + " failed: " + res.error().message), 0};
    const int status = res->status;
    if (status >= 200 && status < 300) co_return std::pair{SendResult::ok(), status};
    const std::string what = where + " answered " + std::to_string(status);
    if (status == 429)
      co_return std::pair{SendResult::retryable(what + ": the input's queue is full", http::retry_after(*res)), status};
    if (status >= 500) co_return std::pair{SendResult::retryable(what, http::retry_after(*res)), status};
    if (status == 401 || status == 403)
      co_return std::pair{SendResult::permanent(what + ": check " + std::string(username_setting) + " and " +
                                                std::string(password_setting)),
                          status};
    if (status == 413) co_return std::pair{SendResult::permanent(what + " (Request Entity Too Large)"), status};
    co_return std::pair{SendResult::permanent(what + ": " + res->body.substr(0, 200)), status};
  }

  std::unique_ptr<http::Client> client_;
  std::string authorization_;
  std::size_t accepted_bytes_ = static_cast<std::size_t>(-1);  // lowered by each 413
};

// json_lines over TCP (or TLS), one connection per batch: the tcp input sends nothing back, so the only sign
// that it read a batch is that it closes the connection after reading our end of it. The batch is written, our
// side half-closed (TLS: close_notify first), and it counts as delivered only when the peer's close comes after
// that; a peer that closes or resets earlier (a restart, a crash, a load balancer's idle timeout) or no close
// by the deadline leaves it unconfirmed, and the whole batch is sent again (at-least-once: lines the input read
// before a reset may arrive twice). Logstash's tcp input closes on the client's close, as Netty does.
class LogstashTcp final : public Destination {
 public:
  LogstashTcp(asio::any_io_executor ex, http::Url url, std::optional<asio::ssl::context> tls)
      : ex_(std::move(ex)), url_(std::move(url)), tls_(std::move(tls)) {}
  std::string_view name() const override { return "logstash"; }

  asio::awaitable<SendResult> send(const buffer::Batch& batch, SteadyTime deadline) override {
    const std::string body = body_of(batch);
    const std::string where = (tls_ ? "tls://" : "tcp://") + url_.host + ":" + std::to_string(url_.port);
    // The connection lives until this coroutine ends, after every operation on it has completed: the
    // deadline only closes its socket, which makes pending operations complete with an error.
    tcp::socket plain(ex_);
    std::optional<asio::ssl::stream<tcp::socket&>> ssl;
    if (tls_) ssl.emplace(plain, *tls_);
    // The deadline's handler may already be queued when the timer is cancelled: it reaches the socket only
    // through this state, which says whether the exchange is still running.
    struct Watch {
      tcp::socket* socket;
      bool timed_out = false;
      bool over = false;
    };
    auto watch = std::make_shared<Watch>(Watch{&plain});
    asio::steady_timer timer(ex_);
    timer.expires_at(deadline);
    timer.async_wait([watch](boost::system::error_code ec) {
      if (ec || watch->over) return;
      watch->timed_out = true;
      boost::system::error_code ignored;
      watch->socket->close(ignored);
    });
    auto result = co_await exchange(plain, ssl, body, watch->timed_out);
    watch->over = true;
    timer.cancel();
    if (!result) co_return SendResult::retryable(where + ": " + result.error().message);
    co_return SendResult::ok();
  }

 private:
  asio::awaitable<Status> exchange(tcp::socket& plain, std::optional<asio::ssl::stream<tcp::socket&>>& ssl,
                                   const std::string& body, const bool& timed_out) {
    const auto why = [&](std::string_view doing, const boost::system::error_code& ec) {
      return fail(std::string(doing) + ": " + (timed_out ? std::string("timed out") : ec.message()));
    };
    tcp::resolver resolver(ex_);
    auto [rec, results] = co_await resolver.async_resolve(url_.host, std::to_string(url_.port), use_tuple);
    if (rec) co_return fail("cannot resolve: " + rec.message());
    if (timed_out) co_return fail("timed out");
    auto [cec, ep] = co_await asio::async_connect(plain, results, use_tuple);
    (void)ep;
    if (cec) co_return why("cannot connect", cec);
    if (ssl) {
      SSL_set_tlsext_host_name(ssl->native_handle(), url_.host.c_str());
      ssl->set_verify_callback(asio::ssl::host_name_verification(url_.host));
      auto [hec] = co_await ssl->async_handshake(asio::ssl::stream_base::client, use_tuple);
      if (hec) co_return why("TLS handshake failed", hec);
    }
    // Watch for the peer's close from the start: one that comes before our own is no confirmation.
    bool ours_sent = false, peer_closed_early = false;
    std::optional<boost::system::error_code> peer_end;
    Signal peer_done(ex_);
    std::array<char, 512> sink{};
    asio::co_spawn(
        ex_,
        [&]() -> asio::awaitable<void> {
          for (;;) {
            boost::system::error_code ec;
            if (ssl)
              std::tie(ec, std::ignore) = co_await ssl->async_read_some(asio::buffer(sink), use_tuple);
            else
              std::tie(ec, std::ignore) = co_await plain.async_read_some(asio::buffer(sink), use_tuple);
            if (!ec) continue;  // the tcp input sends nothing; whatever comes is passed over
            peer_closed_early = !ours_sent;
            peer_end = ec;
            peer_done.notify();
            co_return;
          }
        },
        asio::detached);
    boost::system::error_code wec;
    if (ssl)
      std::tie(wec, std::ignore) = co_await asio::async_write(*ssl, asio::buffer(body), use_tuple);
    else
      std::tie(wec, std::ignore) = co_await asio::async_write(plain, asio::buffer(body), use_tuple);
    // A close that has already arrived is read before ours is sent: let the reader run once.
    if (!wec) co_await asio::post(ex_, asio::use_awaitable);
    if (!wec && !peer_end) {
      // Our end: a TCP half-close (with TLS too: asio's close_notify would wait for the peer's on a stream
      // that is being read; the tls input takes the TCP close as the end, as it does a client's crash).
      ours_sent = true;
      boost::system::error_code sec;
      plain.shutdown(tcp::socket::shutdown_send, sec);
    }
    // Wait for the reader to finish: the peer's close, a reset, or the deadline's close of the socket.
    if (wec) {
      boost::system::error_code ignored;
      plain.close(ignored);
    }
    while (!peer_end) co_await peer_done.wait_until(SteadyTime::max());
    if (wec) co_return why("the connection broke while sending", wec);
    if (peer_closed_early) co_return fail("the peer closed the connection before the whole batch was sent");
    const bool clean = *peer_end == asio::error::eof || *peer_end == asio::ssl::error::stream_truncated;
    if (!clean) co_return why("the batch was not confirmed (no orderly close by the peer)", *peer_end);
    co_return Status{};
  }

  asio::any_io_executor ex_;
  http::Url url_;
  std::optional<asio::ssl::context> tls_;
};

Result<std::unique_ptr<Destination>> make(const Context& ctx) {
  const auto& c = ctx.config;
  const std::string text = c.text(url_setting);
  const std::string shown = http::without_userinfo(text);
  std::string scheme = text.substr(0, std::min(text.size(), text.find("://")));
  for (char& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const bool tcp_mode = scheme == "tcp", tls_mode = scheme == "tls";
  if (tcp_mode || tls_mode) {
    const std::string rest = text.substr(6);
    if (rest.find('@') != std::string::npos)
      return fail(std::string(url_setting) + "='" + shown +
                  "': user information ('user:password@') has no meaning for Logstash's tcp input; give host:port");
    auto url = http::parse_url("http://" + rest);
    if (!url || !url->path.empty())
      return fail(std::string(url_setting) + "='" + shown + "' is not tcp://host:port or tls://host:port");
    if (rest.find(':') == std::string::npos) return fail(std::string(url_setting) + "='" + shown + "' needs a port");
    std::optional<asio::ssl::context> tls;
    if (tls_mode) {
      http::TlsOptions options;
      options.ca_file = c.text(ca_file_setting);
      auto made = http::make_tls_client_context(options, ctx.getenv, "tls://" + url->host_header());
      if (!made) return fail(std::string(url_setting) + "='" + shown + "': " + made.error().message);
      tls.emplace(std::move(made->context));
    }
    return std::make_unique<LogstashTcp>(ctx.executor, *url, std::move(tls));
  }
  auto url = http::parse_url(text);
  if (!url) {
    const bool other = scheme != "http" && scheme != "https";
    return fail(std::string(url_setting) + ": " + url.error().message +
                (other ? "; Logstash is reached at tcp://host:port, tls://host:port (its tcp input) or "
                         "http(s)://host:port (its http input)"
                       : ""));
  }
  http::TlsOptions tls;
  tls.ca_file = c.text(ca_file_setting);
  auto client = http::Client::make(ctx.executor, *url, tls, ctx.getenv);
  if (!client) return fail("the logstash destination cannot use " + shown + ": " + client.error().message);
  std::string authorization;
  if (!c.text(username_setting).empty())
    authorization = "Basic " + base64(c.text(username_setting) + ":" + c.text(password_setting));
  return std::make_unique<LogstashHttp>(std::move(*client), std::move(authorization));
}

}  // namespace

const DestinationType& logstash_destination() {
  static const DestinationType type{"logstash", settings, &make};
  return type;
}

}  // namespace elk::destinations
