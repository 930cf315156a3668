#include "destinations/logstash.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "../test_util.h"
#include "http/server.h"

namespace elk::destinations {
namespace {

// The logstash destination's init: what it accepts and how it says what it does not.
struct LogstashInit : ::testing::Test {
  boost::asio::io_context io;
  config::Config cfg;
  pipeline::FunctionContext function{"my-fn", "$LATEST", "eu-west-1", ""};
  Logger log{nullptr};

  void SetUp() override {
    for (const auto& row : logstash_destination().settings) cfg.set(row.name, std::string(row.default_value));
  }
  Result<std::unique_ptr<Destination>> make(const std::string& url, const std::string& ca_file = "") {
    cfg.set("EXTENSION_LOG_DESTINATION_LOGSTASH_URL", url);
    cfg.set("EXTENSION_LOG_DESTINATION_LOGSTASH_CA_FILE", ca_file);
    auto getenv = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
    return logstash_destination().make(Context{cfg, function, log, io.get_executor(), getenv});
  }
};

TEST_F(LogstashInit, SchemesAreCaseInsensitive) {
  for (const char* url : {"tcp://127.0.0.1:5000", "TCP://127.0.0.1:5000", "Tls://127.0.0.1:5000",
                          "http://127.0.0.1:8080", "HTTP://127.0.0.1:8080"}) {
    const auto d = make(url);
    EXPECT_TRUE(d) << url << ": " << (d ? "" : d.error().message);
  }
}

TEST_F(LogstashInit, AnotherSchemeIsToldTheOnesThatWork) {
  const auto d = make("udp://127.0.0.1:5000");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("EXTENSION_LOG_DESTINATION_LOGSTASH_URL"), std::string::npos);
  EXPECT_NE(d.error().message.find("tcp://host:port"), std::string::npos) << d.error().message;
  EXPECT_NE(d.error().message.find("tls://host:port"), std::string::npos) << d.error().message;
}

// Its load error used to be ignored: every connection then failed verification, at every flush.
TEST_F(LogstashInit, ATlsCaFileThatIsNotPemIsAnInitErrorNamingIt) {
  const auto path = std::filesystem::temp_directory_path() / "elk-logstash-not-pem.crt";
  std::ofstream(path) << "this is not a certificate\n";
  const auto d = make("tls://127.0.0.1:5000", path.string());
  std::filesystem::remove(path);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find(path.string()), std::string::npos) << d.error().message;
  EXPECT_NE(d.error().message.find("PEM"), std::string::npos) << d.error().message;
}

TEST_F(LogstashInit, ATlsCaFileThatIsMissingIsAnInitErrorNamingIt) {
  const auto d = make("tls://127.0.0.1:5000", "/nonexistent/ca.pem");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("/nonexistent/ca.pem"), std::string::npos) << d.error().message;
}

// A 413 used to drop the batch for good: now it is split and sent again, the smaller size kept, and only a
// document too large alone refused.
TEST_F(LogstashInit, TheHttpInputsA413SplitsTheBatchAndRefusesOnlyADocumentTooLargeAlone) {
  constexpr std::size_t limit = 2000;
  std::vector<std::string> lines;
  std::size_t posts = 0, refused = 0;
  auto server = http::Server::start(io, {}, [&](http::Request r) -> boost::asio::awaitable<http::Response> {
    ++posts;
    if (r.body.size() > limit) {
      ++refused;
      co_return http::make_response(413, "too large");
    }
    for (std::size_t at = 0, nl; (nl = r.body.find('\n', at)) != std::string::npos; at = nl + 1)
      lines.push_back(r.body.substr(at, nl - at));
    co_return http::make_response(200, "ok");
  });
  ASSERT_TRUE(server);
  auto d = make("http://127.0.0.1:" + std::to_string((*server)->port()));
  ASSERT_TRUE(d) << d.error().message;
  const auto batch = [](std::size_t n, std::size_t big_at) {
    buffer::Batch b;
    for (std::size_t i = 0; i < n; ++i) {
      b.documents.push_back(
          {R"({"n":)" + std::to_string(i) + R"(,"m":")" + std::string(i == big_at ? 3000 : 100, 'x') + "\"}",
           EpochMs{0}, "", i + 1, 0});
      b.bytes += b.documents.back().json.size();
    }
    return b;
  };
  const auto send = [&](const buffer::Batch& b) {
    return test::run_sync(io, (*d)->send(b, std::chrono::steady_clock::now() + std::chrono::seconds(5)));
  };
  const auto r = send(batch(50, 7));
  EXPECT_EQ(r.kind, SendResult::Kind::ok) << r.message;
  EXPECT_EQ(r.rejected, (std::vector<std::size_t>{7}));
  EXPECT_EQ(lines.size(), 49u);
  const auto refused_before = refused;
  EXPECT_EQ(send(batch(30, 99)).kind, SendResult::Kind::ok);
  EXPECT_EQ(refused, refused_before);  // the smaller size is kept
  EXPECT_EQ(lines.size(), 79u);
  EXPECT_GT(posts, 4u);
}

// A tcp input as the test wants it: one accepted connection at a time, handled by `behave`.
struct TcpPeer {
  using tcp = boost::asio::ip::tcp;
  tcp::acceptor acceptor;
  std::vector<std::string> received;  // per connection, what was read before it ended
  explicit TcpPeer(boost::asio::io_context& io,
                   std::function<boost::asio::awaitable<void>(tcp::socket&, std::string&)> behave)
      : acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    boost::asio::co_spawn(
        io,
        [this, behave]() -> boost::asio::awaitable<void> {
          for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
            if (ec) co_return;
            received.emplace_back();
            co_await behave(socket, received.back());
          }
        },
        boost::asio::detached);
  }
  std::string url(std::string_view scheme = "tcp") const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  }
};

boost::asio::awaitable<void> read_to_end(TcpPeer::tcp::socket& s, std::string& into) {
  std::array<char, 4096> chunk;
  for (;;) {
    auto [ec, n] =
        co_await s.async_read_some(boost::asio::buffer(chunk), boost::asio::as_tuple(boost::asio::use_awaitable));
    into.append(chunk.data(), n);
    if (ec) co_return;
  }
}

buffer::Batch lines(std::size_t n, std::size_t size = 100) {
  buffer::Batch b;
  for (std::size_t i = 0; i < n; ++i) {
    b.documents.push_back(
        {R"({"n":)" + std::to_string(i) + R"(,"m":")" + std::string(size, 'x') + "\"}", EpochMs{0}, "", i + 1, 0});
    b.bytes += b.documents.back().json.size();
  }
  return b;
}

SendResult send_within(boost::asio::io_context& io, Destination& d, const buffer::Batch& b,
                       std::chrono::milliseconds within) {
  return test::run_sync(io, d.send(b, std::chrono::steady_clock::now() + within));
}

// Delivered means: the input read our whole batch and closed after our close (it sends nothing back).
TEST_F(LogstashInit, TcpABatchIsDeliveredWhenTheInputClosesAfterReadingIt) {
  TcpPeer peer(io, [](TcpPeer::tcp::socket& s, std::string& into) -> boost::asio::awaitable<void> {
    co_await read_to_end(s, into);  // then the socket closes: the input's close after ours
  });
  auto d = make(peer.url());
  ASSERT_TRUE(d) << d.error().message;
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(send_within(io, **d, lines(50), std::chrono::seconds(5)).kind, SendResult::Kind::ok);
  ASSERT_EQ(peer.received.size(), 3u);  // one connection per batch: no kept connection to find dead
  for (const auto& r : peer.received) EXPECT_EQ(std::count(r.begin(), r.end(), '\n'), 50);
}

// Writes into a connection the input had closed or reset used to count as delivered (195 of 200 lines lost).
TEST_F(LogstashInit, TcpAResetMidBatchOrACloseBeforeOursLeavesTheBatchToSendAgain) {
  TcpPeer reset(io, [](TcpPeer::tcp::socket& s, std::string& into) -> boost::asio::awaitable<void> {
    std::array<char, 1000> part;
    auto [ec, n] = co_await boost::asio::async_read(s, boost::asio::buffer(part),
                                                    boost::asio::as_tuple(boost::asio::use_awaitable));
    into.append(part.data(), n);
    s.set_option(TcpPeer::tcp::socket::linger(true, 0));  // a crash: RST
    s.close();
    co_return;
  });
  auto d = make(reset.url());
  ASSERT_TRUE(d);
  const auto r = send_within(io, **d, lines(2000), std::chrono::seconds(5));
  EXPECT_EQ(r.kind, SendResult::Kind::retryable) << r.message;

  TcpPeer early(io, [](TcpPeer::tcp::socket& s, std::string&) -> boost::asio::awaitable<void> {
    s.close();  // an idle timeout, a restart: closed before reading anything
    co_return;
  });
  auto e = make(early.url());
  ASSERT_TRUE(e);
  const auto r2 = send_within(io, **e, lines(3), std::chrono::seconds(5));
  EXPECT_EQ(r2.kind, SendResult::Kind::retryable) << r2.message;
}

// No close from the input by the deadline: not confirmed. And a deadline that fires while the TLS handshake is
// pending (a peer that accepts and says nothing) ends the send cleanly: the stream used to be destroyed under
// a pending operation (ASan: heap-use-after-free).
TEST_F(LogstashInit, APeerThatNeverAnswersEndsRetryableAtTheDeadlineOverTcpAndTls) {
  std::vector<std::unique_ptr<TcpPeer::tcp::socket>> held;
  const auto hold = [&held](TcpPeer::tcp::socket& s, std::string&) -> boost::asio::awaitable<void> {
    held.push_back(std::make_unique<TcpPeer::tcp::socket>(std::move(s)));  // open, silent, never read
    co_return;
  };
  TcpPeer silent(io, hold);
  for (const char* scheme : {"tcp", "tls"}) {
    auto d = make(silent.url(scheme));
    ASSERT_TRUE(d) << d.error().message;
    const auto started = std::chrono::steady_clock::now();
    const auto r = send_within(io, **d, lines(10), std::chrono::milliseconds(300));
    EXPECT_EQ(r.kind, SendResult::Kind::retryable) << scheme;
    EXPECT_NE(r.message.find("timed out"), std::string::npos) << r.message;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3)) << scheme;
    // The deadline's handler may run after the send: let it, and any late completion, run now.
    boost::asio::steady_timer settle(io, std::chrono::milliseconds(50));
    test::run_sync(io, [&]() -> boost::asio::awaitable<int> {
      co_await settle.async_wait(boost::asio::use_awaitable);
      co_return 0;
    }());
  }
}

}  // namespace
}  // namespace elk::destinations
