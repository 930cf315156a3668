#include "http/client.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <map>

#include "../test_util.h"
#include "http/server.h"

namespace elk::http {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

SteadyTime in(std::chrono::milliseconds d) {
  return std::chrono::steady_clock::now() + d;
}

Getenv env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Url url(const std::string& text) {
  auto u = parse_url(text);
  if (!u) ADD_FAILURE() << u.error().message;
  return u ? *u : Url{};
}

Request get(std::string target = "/") {
  Request r;
  r.target = std::move(target);
  return r;
}

std::size_t count_headers(const std::vector<Header>& headers, std::string_view name) {
  std::size_t n = 0;
  for (const auto& h : headers) n += iequals(h.name, name);
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// A self-signed certificate made with OpenSSL, so the tests need no files and no openssl command.

struct TestCert {
  std::string cert_pem;
  std::string key_pem;
};

TestCert make_self_signed(const std::string& common_name, const std::string& subject_alt_names) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"),
                                                          EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  if (!key || !x) throw std::runtime_error("cannot make a test key");
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, subject_alt_names},
                                   std::pair{NID_basic_constraints, std::string("critical,CA:TRUE")}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!ext) throw std::runtime_error("cannot make a test certificate extension");
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(x.get(), key.get(), EVP_sha256()) == 0) throw std::runtime_error("cannot sign a test certificate");

  auto pem = [](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    write(bio.get());
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
  };
  TestCert out;
  out.cert_pem = pem([&](BIO* b) { PEM_write_bio_X509(b, x.get()); });
  out.key_pem = pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
  return out;
}

// The OpenSSL hash name of a certificate in a c_rehash directory: "1a2b3c4d.0".
std::string hashed_name(const std::string& cert_pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())),
                                                BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  char name[16];
  std::snprintf(name, sizeof name, "%08lx.0", X509_subject_name_hash(x.get()));
  return name;
}

// ---------------------------------------------------------------------------------------------------------------
// A scripted HTTP/1.1 server, plain or TLS, that counts connections and can misbehave on cue.

enum class Then {
  answer,                // answer and keep the connection open
  answer_and_close,      // answer (without "Connection: close") and close: the peer closing an idle connection
  answer_with_close,     // answer with "Connection: close" and close
  close_without_answer,  // read the request and close: an idle close racing the client's request
  stall,                 // read the request and never answer
  endless,               // answer 200 with a chunked body that never ends, as fast as it is read
};

class RawServer {
 public:
  explicit RawServer(asio::io_context& io, std::optional<TestCert> cert = std::nullopt)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    if (cert) {
      tls_.emplace(ssl::context::tls_server);
      tls_->use_certificate_chain(asio::buffer(cert->cert_pem));
      tls_->use_private_key(asio::buffer(cert->key_pem), ssl::context::pem);
    }
    asio::co_spawn(io, accept_loop(this), asio::detached);
  }
  ~RawServer() {
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  int accepted = 0;                       // connections accepted
  int handshakes = 0;                     // TLS handshakes completed
  std::vector<std::string> heads;         // each request's head, as received
  std::vector<std::string> bodies;        // each request's body
  std::vector<std::string> server_names;  // each TLS connection's SNI ("" for none)
  std::function<Then(int connection, int request)> script = [](int, int) { return Then::answer; };

 private:
  static asio::awaitable<void> accept_loop(RawServer* self) {
    for (;;) {
      auto [ec, socket] = co_await self->acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      const int n = self->accepted++;
      if (self->tls_)
        asio::co_spawn(self->acceptor_.get_executor(), tls_session(self, std::move(socket), n), asio::detached);
      else
        asio::co_spawn(self->acceptor_.get_executor(), plain_session(self, std::move(socket), n), asio::detached);
    }
  }

  static asio::awaitable<void> plain_session(RawServer* self, tcp::socket socket, int connection) {
    co_await serve(self, socket, connection);
  }

  static asio::awaitable<void> tls_session(RawServer* self, tcp::socket socket, int connection) {
    ssl::stream<tcp::socket> stream(std::move(socket), *self->tls_);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
    if (ec) co_return;
    ++self->handshakes;
    const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    self->server_names.emplace_back(sni ? sni : "");
    co_await serve(self, stream, connection);
  }

  template <class Stream>
  static asio::awaitable<void> serve(RawServer* self, Stream& stream, int connection) {
    std::string buffer;
    for (int request = 0;; ++request) {
      auto [ec, n] = co_await asio::async_read_until(stream, asio::dynamic_buffer(buffer), "\r\n\r\n", use_tuple);
      if (ec) co_return;
      std::string head = buffer.substr(0, n);
      buffer.erase(0, n);
      std::size_t length = 0;
      std::string lower = head;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (const auto at = lower.find("\r\ncontent-length:"); at != std::string::npos)
        length = std::stoul(head.substr(at + 17));
      if (buffer.size() < length) {
        auto [bec, bn] = co_await asio::async_read(stream, asio::dynamic_buffer(buffer),
                                                   asio::transfer_exactly(length - buffer.size()), use_tuple);
        if (bec) co_return;
      }
      self->heads.push_back(head);
      self->bodies.push_back(buffer.substr(0, length));
      buffer.erase(0, length);

      const Then then = self->script(connection, request);
      if (then == Then::close_without_answer) co_return;
      if (then == Then::endless) {
        const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        auto [hec, hn] = co_await asio::async_write(stream, asio::buffer(head), use_tuple);
        const std::string chunk = "4000\r\n" + std::string(0x4000, 'x') + "\r\n";
        while (!hec) std::tie(hec, hn) = co_await asio::async_write(stream, asio::buffer(chunk), use_tuple);
        co_return;
      }
      if (then == Then::stall) {
        asio::steady_timer forever(co_await asio::this_coro::executor, 1h);
        co_await forever.async_wait(use_tuple);
        co_return;
      }
      const std::string body = "c" + std::to_string(connection) + "r" + std::to_string(request);
      const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
                                 (then == Then::answer_with_close ? "Connection: close\r\n" : "") +
                                 "X-Repeated: 1\r\nX-Repeated: 2\r\n\r\n" + body;
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(answer), use_tuple);
      if (wec || then != Then::answer) co_return;
    }
  }

  tcp::acceptor acceptor_;
  std::optional<ssl::context> tls_;
};

struct ClientTest : ::testing::Test {
  asio::io_context io;

  std::unique_ptr<Client> client(const std::string& origin, TlsOptions tls = {}, const Getenv& getenv = env({})) {
    auto c = Client::make(io.get_executor(), url(origin), std::move(tls), getenv);
    if (!c) throw std::runtime_error(c.error().message);
    return std::move(*c);
  }
  ClientResult<Response> send(Client& c, Request r, std::chrono::milliseconds timeout = 5s) {
    return test::run_sync(io, c.send(std::move(r), in(timeout)));
  }
  // Lets the server side finish what it was doing (e.g. closing) after the client has its answer.
  void settle() {
    io.restart();
    io.run_for(50ms);
  }
  static std::uint16_t free_port() {
    asio::io_context scratch;
    tcp::acceptor a(scratch, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
  }
};

// ---------------------------------------------------------------------------------------------------------------
// Plain HTTP

TEST_F(ClientTest, ReusesOneKeepAliveConnectionForSequentialRequests) {
  RawServer server(io);
  auto c = client("http://127.0.0.1:" + std::to_string(server.port()));
  for (int i = 0; i < 5; ++i) {
    const auto res = send(*c, get());
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "c0r" + std::to_string(i));
  }
  EXPECT_EQ(server.accepted, 1);
  EXPECT_EQ(c->idle_connections(), 1u);
}

TEST_F(ClientTest, OpensAConnectionPerConcurrentRequestAndKeepsAtMostFourIdle) {
  RawServer server(io);
  auto c = client("http://127.0.0.1:" + std::to_string(server.port()));
  std::vector<std::future<ClientResult<Response>>> futures;
  for (int i = 0; i < 6; ++i) futures.push_back(asio::co_spawn(io, c->send(get(), in(5s)), asio::use_future));
  io.restart();
  auto all_ready = [&] {
    for (auto& f : futures)
      if (f.wait_for(0s) != std::future_status::ready) return false;
    return true;
  };
  while (!all_ready()) io.run_one();
  for (auto& f : futures) {
    const auto res = f.get();
    ASSERT_TRUE(res) << res.error().message;
  }
  EXPECT_EQ(server.accepted, 6);
  EXPECT_EQ(c->idle_connections(), Client::max_idle_connections);
}

TEST_F(ClientTest, ReconnectsTransparentlyWhenThePeerClosedTheIdleConnection) {
  RawServer server(io);
  server.script = [](int connection, int) { return connection == 0 ? Then::answer_and_close : Then::answer; };
  auto c = client("http://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(send(*c, get()));
  settle();  // the server's close reaches the client's idle connection
  const auto res = send(*c, get());
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->body, "c1r0");
  EXPECT_EQ(server.accepted, 2);
}

TEST_F(ClientTest, RetriesOnceOnAFreshConnectionWhenAReusedOneClosesBeforeAnswering) {
  RawServer server(io);
  server.script = [](int connection, int request) {
    return connection == 0 && request == 1 ? Then::close_without_answer : Then::answer;
  };
  auto c = client("http://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(send(*c, get()));
  Request put;
  put.method = "PUT";
  put.target = "/k";
  put.body = "payload";
  const auto res = send(*c, put);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->body, "c1r0");
  EXPECT_EQ(server.accepted, 2);
  ASSERT_EQ(server.bodies.size(), 3u);
  EXPECT_EQ(server.bodies[1], "payload");
  EXPECT_EQ(server.bodies[2], "payload");
}

TEST_F(ClientTest, DoesNotRetryOnANewConnection) {
  RawServer server(io);
  server.script = [](int, int) { return Then::close_without_answer; };
  auto c = client("http://127.0.0.1:" + std::to_string(server.port()));
  const auto res = send(*c, get());
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, ClientError::Kind::io);
  EXPECT_NE(res.error().message.find("http://127.0.0.1:" + std::to_string(server.port())), std::string::npos)
      << res.error().message;
  EXPECT_EQ(server.accepted, 1);
}

TEST_F(ClientTest, DoesNotKeepAConnectionTheServerAnsweredWithConnectionClose) {
  RawServer server(io);
  server.script = [](int, int) { return Then::answer_with_close; };
  auto c = client("http://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(send(*c, get()));
  EXPECT_EQ(c->idle_connections(), 0u);
  ASSERT_TRUE(send(*c, get()));
  EXPECT_EQ(server.accepted, 2);
}

TEST_F(ClientTest, DoesNotKeepAConnectionTheRequestAskedToClose) {
  RawServer server(io);
  auto c = client("http://127.0.0.1:" + std::to_string(server.port()));
  auto r = get();
  r.headers.push_back({"Connection", "close"});
  ASSERT_TRUE(send(*c, r));
  EXPECT_EQ(c->idle_connections(), 0u);
}

TEST_F(ClientTest, KeepsRepeatedResponseHeaders) {
  RawServer server(io);
  auto c = client("http://127.0.0.1:" + std::to_string(server.port()));
  const auto res = send(*c, get());
  ASSERT_TRUE(res);
  EXPECT_EQ(count_headers(res->headers, "X-Repeated"), 2u);
}

TEST_F(ClientTest, TimesOutAtTheDeadlineWhenTheServerDoesNotAnswer) {
  RawServer server(io);
  server.script = [](int, int) { return Then::stall; };
  auto c = client("http://127.0.0.1:" + std::to_string(server.port()));
  const auto start = std::chrono::steady_clock::now();
  const auto res = send(*c, get(), 200ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, ClientError::Kind::timeout);
  EXPECT_NE(res.error().message.find("timed out waiting for the answer from http://127.0.0.1:"), std::string::npos)
      << res.error().message;
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2s);
  EXPECT_EQ(c->idle_connections(), 0u);
}

// An endless answer used to be read up to 64 MB into memory (RSS 165-200 MB: a 128 MB function is killed).
// Reading stops at what the request can need (1 MB by default, or what the caller says), with an io error.
TEST_F(ClientTest, StopsReadingAnAnswerPastWhatTheRequestCanNeed) {
  RawServer server(io);
  server.script = [](int, int) { return Then::endless; };
  auto c = client("http://127.0.0.1:" + std::to_string(server.port()));
  auto res = send(*c, get());
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, ClientError::Kind::io);
  EXPECT_NE(res.error().message.find("larger than 1048576 bytes"), std::string::npos) << res.error().message;
  res = test::run_sync(io, c->send(get(), in(5s), 100 * 1024));
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().message.find("larger than 102400 bytes"), std::string::npos) << res.error().message;
  EXPECT_EQ(c->idle_connections(), 0u);
}

// And at the deadline, when it comes first.
TEST_F(ClientTest, StopsReadingAnEndlessAnswerAtTheDeadline) {
  RawServer server(io);
  server.script = [](int, int) { return Then::endless; };
  auto c = client("http://127.0.0.1:" + std::to_string(server.port()));
  const auto start = std::chrono::steady_clock::now();
  const auto res = test::run_sync(io, c->send(get(), in(300ms), std::size_t{1} << 40));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, ClientError::Kind::timeout) << res.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(ClientTest, TimesOutAtOnceWhenTheDeadlineHasPassed) {
  RawServer server(io);
  auto c = client("http://127.0.0.1:" + std::to_string(server.port()));
  const auto res = test::run_sync(io, c->send(get(), std::chrono::steady_clock::now() - 1ms));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, ClientError::Kind::timeout);
  EXPECT_EQ(server.accepted, 0);
}

TEST_F(ClientTest, ReportsARefusedConnectionAsAConnectError) {
  const auto port = std::to_string(free_port());
  auto c = client("http://127.0.0.1:" + port);
  const auto res = send(*c, get());
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, ClientError::Kind::connect);
  EXPECT_NE(res.error().message.find("cannot connect to http://127.0.0.1:" + port + ": "), std::string::npos)
      << res.error().message;
}

TEST_F(ClientTest, RefusesARequestThatWouldNotBeSentAsGiven) {
  RawServer server(io);
  auto c = client("http://127.0.0.1:" + std::to_string(server.port()));
  auto r = get();
  r.headers.push_back({"X-Injected", "a\r\nHost: evil"});
  auto res = send(*c, r);
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().message.find("X-Injected"), std::string::npos) << res.error().message;
  res = send(*c, get("/a b"));
  ASSERT_FALSE(res);
  EXPECT_EQ(server.accepted, 0);
}

// Against the project's own server.
struct ClientWithServer : ClientTest {
  std::vector<Request> seen;
  std::unique_ptr<Server> server;
  std::unique_ptr<Client> c;

  void SetUp() override {
    auto s = Server::start(io, {}, [this](Request r) -> asio::awaitable<Response> {
      seen.push_back(r);
      if (r.target == "/slow") {
        asio::steady_timer t(co_await asio::this_coro::executor, 2s);
        co_await t.async_wait(use_tuple);
      }
      co_return make_response(201, "{\"ok\":true}");
    });
    ASSERT_TRUE(s) << s.error().message;
    server = std::move(*s);
    c = client("http://127.0.0.1:" + std::to_string(server->port()));
  }
};

TEST_F(ClientWithServer, SendsTheHostHeaderOfTheRequestExactlyAsGiven) {
  auto r = get();
  r.headers.push_back({"host", "Bucket.s3.eu-west-1.amazonaws.com"});
  ASSERT_TRUE(send(*c, r));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(count_headers(seen[0].headers, "Host"), 1u);
  EXPECT_EQ(seen[0].header("Host"), "Bucket.s3.eu-west-1.amazonaws.com");
}

TEST_F(ClientWithServer, SendsTheOriginsHostHeaderWhenTheRequestHasNone) {
  ASSERT_TRUE(send(*c, get()));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].header("Host"), "127.0.0.1:" + std::to_string(server->port()));
}

TEST_F(ClientWithServer, SendsMethodTargetRepeatedHeadersAndBodyAsGiven) {
  Request r;
  r.method = "POST";
  r.target = "/_bulk?refresh=false&x=%2F";
  r.headers = {{"Content-Type", "application/x-ndjson"}, {"X-Tag", "a"}, {"X-Tag", "b"}, {"Content-Length", "999"}};
  r.body = "{\"index\":{}}\n{\"m\":1}\n";
  const auto res = send(*c, r);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, "{\"ok\":true}");
  EXPECT_EQ(res->header("content-type"), "application/json");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/_bulk?refresh=false&x=%2F");
  EXPECT_EQ(count_headers(seen[0].headers, "X-Tag"), 2u);
  EXPECT_EQ(count_headers(seen[0].headers, "Content-Length"), 1u);
  EXPECT_EQ(seen[0].header("Content-Length"), std::to_string(r.body.size()));
  EXPECT_EQ(seen[0].body, r.body);
}

TEST_F(ClientWithServer, SendsContentLengthZeroForAnEmptyPut) {
  Request r;
  r.method = "PUT";
  r.target = "/empty";
  ASSERT_TRUE(send(*c, r));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].header("Content-Length"), "0");
}

TEST_F(ClientWithServer, TimesOutAtTheDeadline) {
  const auto res = send(*c, get("/slow"), 150ms);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, ClientError::Kind::timeout);
}

TEST_F(ClientWithServer, TheOneOffSendStillServesTheLambdaApis) {
  Request r;
  r.method = "POST";
  r.target = "/2020-01-01/extension/register";
  r.body = "{}";
  const auto res = test::run_sync(io, http::send(Endpoint{"127.0.0.1", server->port()}, r, 5s));
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 201);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].header("Host"), "127.0.0.1:" + std::to_string(server->port()));
  const auto none = test::run_sync(io, http::send(Endpoint{"127.0.0.1", server->port()}, get(), 0ms));
  ASSERT_TRUE(none) << none.error().message;
}

TEST_F(ClientWithServer, TheOneOffSendReportsARefusedConnection) {
  const auto port = free_port();
  const auto res = test::run_sync(io, http::send(Endpoint{"127.0.0.1", port}, get(), 1s));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, ClientError::Kind::connect);
  EXPECT_NE(res.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

// Far more idle connections than the server keeps (a leak, a flood, ~1100 as in Lambda's fd limit): the
// ones that never sent a request make room, the keep-alive connection that delivers survives, requests go on.
TEST_F(ClientTest, TheServerCapsIdleConnectionsAndKeepsServing) {
  int served = 0;
  ServerOptions options;
  options.max_connections = 8;
  auto s = Server::start(io, options, [&](Request) -> asio::awaitable<Response> {
    ++served;
    co_return make_response(200, "ok");
  });
  ASSERT_TRUE(s) << s.error().message;
  auto server = std::move(*s);
  auto c = client("http://127.0.0.1:" + std::to_string(server->port()));
  ASSERT_TRUE(send(*c, get()));  // the keep-alive connection, now idle

  std::vector<tcp::socket> idle;
  for (int i = 0; i < 40; ++i) {
    idle.emplace_back(io);
    idle.back().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server->port()));
    io.restart();
    io.run_for(2ms);  // the server accepts it
  }
  settle();
  int open = 0;
  for (auto& sock : idle) {
    sock.non_blocking(true);
    char byte;
    boost::system::error_code ec;
    sock.read_some(asio::buffer(&byte, 1), ec);
    open += ec == asio::error::would_block;  // still open, waiting; closed ones read EOF
  }
  EXPECT_LE(open, 8);
  EXPECT_GE(open, 1);
  for (int i = 0; i < 3; ++i) {
    const auto res = send(*c, get());
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->status, 200);
  }
  EXPECT_EQ(served, 4);
}

// ---------------------------------------------------------------------------------------------------------------
// TLS

struct TlsClientTest : ClientTest {
  test::TempDir dir;
  TestCert local = make_self_signed("localhost", "DNS:localhost,IP:127.0.0.1");
  std::string local_pem = write("local.pem", local.cert_pem);

  std::string write(const std::string& name, const std::string& text) {
    const auto p = dir.path / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
};

TEST_F(TlsClientTest, VerifiesTheServerWithTheCaFileAndSendsSni) {
  RawServer server(io, local);
  auto c = client("https://localhost:" + std::to_string(server.port()), {.verify = true, .ca_file = local_pem});
  EXPECT_EQ(c->ca_source(), local_pem);
  for (int i = 0; i < 3; ++i) {
    const auto res = send(*c, get());
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->body, "c0r" + std::to_string(i));
  }
  EXPECT_EQ(server.accepted, 1);
  EXPECT_EQ(server.handshakes, 1);
  EXPECT_EQ(server.server_names, std::vector<std::string>{"localhost"});
  ASSERT_EQ(server.heads.size(), 3u);
  EXPECT_NE(server.heads[0].find("\r\nHost: localhost:" + std::to_string(server.port()) + "\r\n"), std::string::npos)
      << server.heads[0];
}

TEST_F(TlsClientTest, VerifiesAnIpAddressAgainstTheCertificatesIpNamesWithoutSni) {
  RawServer server(io, local);
  auto c = client("https://127.0.0.1:" + std::to_string(server.port()), {.verify = true, .ca_file = local_pem});
  const auto res = send(*c, get());
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(server.server_names, std::vector<std::string>{""});
}

TEST_F(TlsClientTest, FailsWithATlsErrorWhenTheCertificateIsNotTrusted) {
  RawServer server(io, local);
  const auto other = write("other.pem", make_self_signed("Unrelated Test CA", "DNS:other.example").cert_pem);
  const auto origin = "https://localhost:" + std::to_string(server.port());
  auto c = client(origin, {}, env({{"SSL_CERT_FILE", other}}));
  EXPECT_EQ(c->ca_source(), "SSL_CERT_FILE=" + other);
  const auto res = send(*c, get());
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, ClientError::Kind::tls);
  const auto& m = res.error().message;
  EXPECT_EQ(m.rfind("TLS handshake with " + origin + " failed: certificate not accepted: ", 0), 0u) << m;
  EXPECT_NE(m.find("self-signed"), std::string::npos) << m;
  EXPECT_NE(m.find("SSL_CERT_FILE=" + other), std::string::npos) << m;
  EXPECT_EQ(server.handshakes, 0);
}

TEST_F(TlsClientTest, FailsWhenTheCertificateIsForAnotherHost) {
  const auto other = make_self_signed("other.example", "DNS:other.example");
  RawServer server(io, other);
  const auto other_pem = write("other.pem", other.cert_pem);
  auto c = client("https://localhost:" + std::to_string(server.port()), {.verify = true, .ca_file = other_pem});
  const auto res = send(*c, get());
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, ClientError::Kind::tls);
  EXPECT_NE(res.error().message.find("hostname mismatch"), std::string::npos) << res.error().message;

  auto by_ip = client("https://127.0.0.1:" + std::to_string(server.port()), {.verify = true, .ca_file = other_pem});
  const auto ip_res = send(*by_ip, get());
  ASSERT_FALSE(ip_res);
  EXPECT_EQ(ip_res.error().kind, ClientError::Kind::tls);
  EXPECT_NE(ip_res.error().message.find("IP address mismatch"), std::string::npos) << ip_res.error().message;
}

TEST_F(TlsClientTest, AcceptsAnyCertificateOnlyWhenVerificationIsOff) {
  RawServer server(io, make_self_signed("other.example", "DNS:other.example"));
  auto c = client("https://127.0.0.1:" + std::to_string(server.port()), {.verify = false},
                  env({{"SSL_CERT_FILE", "/nonexistent"}}));
  EXPECT_EQ(c->ca_source(), "");
  const auto res = send(*c, get());
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200);
}

TEST_F(TlsClientTest, TrustsAHashedCertificateDirectoryFromSslCertDir) {
  RawServer server(io, local);
  std::filesystem::create_directories(dir.path / "certs");
  write("certs/" + hashed_name(local.cert_pem), local.cert_pem);
  auto c = client("https://localhost:" + std::to_string(server.port()), {},
                  env({{"SSL_CERT_DIR", (dir.path / "certs").string()}}));
  const auto res = send(*c, get());
  ASSERT_TRUE(res) << res.error().message;
}

TEST_F(TlsClientTest, ReconnectsWithANewHandshakeWhenThePeerClosedTheIdleConnection) {
  RawServer server(io, local);
  server.script = [](int connection, int) { return connection == 0 ? Then::answer_and_close : Then::answer; };
  auto c = client("https://localhost:" + std::to_string(server.port()), {.verify = true, .ca_file = local_pem});
  ASSERT_TRUE(send(*c, get()));
  settle();
  const auto res = send(*c, get());
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->body, "c1r0");
  EXPECT_EQ(server.handshakes, 2);
}

TEST_F(TlsClientTest, RetriesAReusedTlsConnectionThatClosesBeforeAnswering) {
  RawServer server(io, local);
  server.script = [](int connection, int request) {
    return connection == 0 && request == 1 ? Then::close_without_answer : Then::answer;
  };
  auto c = client("https://localhost:" + std::to_string(server.port()), {.verify = true, .ca_file = local_pem});
  ASSERT_TRUE(send(*c, get()));
  const auto res = send(*c, get());
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->body, "c1r0");
}

TEST_F(TlsClientTest, TimesOutWhenTheServerNeverCompletesTheHandshake) {
  RawServer server(io);  // plain: waits for an HTTP head that a ClientHello never ends
  auto c = client("https://localhost:" + std::to_string(server.port()), {.verify = true, .ca_file = local_pem});
  const auto res = send(*c, get(), 200ms);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, ClientError::Kind::timeout);
  EXPECT_NE(res.error().message.find("TLS handshake"), std::string::npos) << res.error().message;
}

TEST_F(TlsClientTest, ReportsAPlainHttpServerAsATlsError) {
  auto s = Server::start(io, {}, [](Request) -> asio::awaitable<Response> { co_return make_response(200, ""); });
  ASSERT_TRUE(s);
  auto c = client("https://127.0.0.1:" + std::to_string((*s)->port()), {.verify = true, .ca_file = local_pem});
  const auto res = send(*c, get());
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, ClientError::Kind::tls) << res.error().message;
}

TEST_F(TlsClientTest, MakeFailsWhenTheCaFileDoesNotLoad) {
  const auto junk = write("junk.pem", "not a certificate\n");
  auto c = Client::make(io.get_executor(), url("https://localhost:1"), {.verify = true, .ca_file = junk}, env({}));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("cannot load CA certificates from '" + junk + "' for https://localhost:1"),
            std::string::npos)
      << c.error().message;

  auto missing = Client::make(io.get_executor(), url("https://localhost:1"),
                              {.verify = true, .ca_file = (dir.path / "nope.pem").string()}, env({}));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("nope.pem"), std::string::npos) << missing.error().message;
}

TEST_F(TlsClientTest, PlainHttpNeedsNoCaCertificates) {
  auto c =
      Client::make(io.get_executor(), url("http://localhost:1"), {.verify = true, .ca_file = "/nonexistent"}, env({}));
  ASSERT_TRUE(c) << c.error().message;
}

}  // namespace
}  // namespace elk::http
