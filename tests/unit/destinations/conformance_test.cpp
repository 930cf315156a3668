// The destination conformance suite: every destination kind of the registry through the same contract
// (destination.h): what a 2xx (or a writable directory) means, how answers are classified, the deadline,
// partial results and stable document ids. Adding a destination = its file + one registry line + a harness
// row below; a registry kind without a harness fails here, so none can skip the suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <map>
#include <set>

#include "../test_util.h"
#include "destinations/registry.h"
#include "http/server.h"

namespace elk::destinations {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using Kind = SendResult::Kind;
using std::chrono::milliseconds;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t at = 0, nl; (nl = text.find('\n', at)) != std::string_view::npos; at = nl + 1)
    out.emplace_back(text.substr(at, nl - at));
  return out;
}

// ---- The fakes ------------------------------------------------------------------------------------------

// A raw TCP peer: every accepted connection is handed to `behave`, each in its own coroutine, which owns it.
struct RawPeer {
  using Behaviour = std::function<asio::awaitable<void>(tcp::socket, std::string& received)>;
  tcp::acceptor acceptor;
  std::vector<std::string> received;  // per connection, what the behaviour read

  RawPeer(asio::io_context& io, Behaviour behave) : acceptor(io, {asio::ip::make_address("127.0.0.1"), 0}) {
    received.reserve(64);  // references into it are held by the behaviours
    asio::co_spawn(
        io,
        [this, behave, &io]() -> asio::awaitable<void> {
          for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
            if (ec || received.size() == received.capacity()) co_return;
            received.emplace_back();
            asio::co_spawn(io, behave(std::move(socket), received.back()), asio::detached);
          }
        },
        asio::detached);
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
};

asio::awaitable<void> read_to_end(tcp::socket s, std::string& into) {
  std::array<char, 4096> chunk;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(chunk), use_tuple);
    into.append(chunk.data(), n);
    if (ec) co_return;  // the peer's half-close (or a break): our close follows, after theirs
  }
}

// Reads a little, then drops the connection with a reset (a crash).
asio::awaitable<void> reset_midway(tcp::socket s, std::string& into) {
  std::array<char, 1000> part;
  auto [ec, n] = co_await asio::async_read(s, asio::buffer(part), use_tuple);
  into.append(part.data(), n);
  s.set_option(tcp::socket::linger(true, 0));
  s.close();
}

// Accepts and never reads, writes or closes (until the test ends).
asio::awaitable<void> silent(tcp::socket s, std::string&) {
  asio::steady_timer forever(s.get_executor(), std::chrono::hours(1));
  co_await forever.async_wait(use_tuple);
}

// Reads what comes and answers endlessly slowly: an HTTP 200 whose chunked body never ends, a byte every
// 20 ms (to a tcp client, the same bytes are just never a close).
asio::awaitable<void> trickle(tcp::socket s, std::string& into) {
  std::array<char, 4096> chunk;
  auto [rec, n] = co_await s.async_read_some(asio::buffer(chunk), use_tuple);
  into.append(chunk.data(), n);
  if (rec) co_return;
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  if (auto [ec, w] = co_await asio::async_write(s, asio::buffer(head), use_tuple); ec) co_return;
  asio::steady_timer tick(s.get_executor());
  for (;;) {
    tick.expires_after(milliseconds(20));
    co_await tick.async_wait(use_tuple);
    if (auto [ec, w] = co_await asio::async_write(s, asio::buffer(std::string_view("1\r\n \r\n")), use_tuple); ec)
      co_return;
  }
}

// What the fakes received, as a harness reads it.
struct Observed {
  const std::vector<http::Request>& requests;   // http destinations
  const std::vector<std::string>& connections;  // tcp destinations: the bytes of each connection
  const fs::path& directory;                    // the file destination
};

// ---- The harnesses: one row per way of running a destination -------------------------------------------

enum class Wire { http, tcp, file };
enum class On413 { permanent, split };  // what the destination does with a 413 (as the code does today)

using Settings = std::vector<std::pair<std::string, std::string>>;

std::string local(std::uint16_t port, std::string_view scheme = "http") {
  return std::string(scheme) + "://127.0.0.1:" + std::to_string(port);
}

struct PartialCase {
  std::size_t documents = 0, document_bytes = 100;
  Settings settings;                                                            // on top of the harness's
  std::function<http::Response(const http::Request&, std::size_t nth)> answer;  // nth POST/PUT, from 0
  // The exact `failed` and `rejected` this answer must give, read from what the fake saw.
  std::function<std::pair<std::vector<std::size_t>, std::vector<std::size_t>>(const Observed&)> expected;
};

struct Harness {
  std::string_view destination;  // as in the registry
  std::string_view variant;      // a second way of running it ("tcp"), "" for the main one
  Wire wire;
  // Settings pointing the destination at the fake (`port`) or the directory.
  std::function<Settings(std::uint16_t port, const fs::path& dir)> settings;
  std::function<http::Response(const http::Request&)> ok_answer;  // a 2xx as the peer gives it
  // The documents (one JSON text each) in what the fake received, in order.
  std::function<std::vector<std::string>(const Observed&)> documents;
  // The ids or keys the documents were carried with; nullptr: none (Logstash).
  std::function<std::vector<std::string>(const Observed&)> ids;
  On413 on_413 = On413::permanent;
  std::optional<PartialCase> partial;  // how to make it answer `partial`, when it can
};

bool is_bulk(const http::Request& r) {
  return r.method == "POST" && r.target.ends_with("/_bulk");
}

std::vector<std::string> http_bodies_lines(const Observed& o, std::string_view method) {
  std::vector<std::string> out;
  for (const auto& r : o.requests)
    if (r.method == method)
      for (auto& l : lines_of(r.body)) out.push_back(std::move(l));
  return out;
}

// A bulk body alternates action and document lines.
std::vector<std::string> bulk_lines(const Observed& o, bool actions) {
  std::vector<std::string> out;
  for (const auto& r : o.requests) {
    if (!is_bulk(r)) continue;
    const auto l = lines_of(r.body);
    for (std::size_t i = actions ? 0 : 1; i < l.size(); i += 2) out.push_back(l[i]);
  }
  return out;
}

std::string bulk_items(const http::Request& r, const std::function<std::string(std::size_t)>& item) {
  std::string items;
  for (std::size_t i = 0, n = lines_of(r.body).size() / 2; i < n; ++i) items += (i ? "," : "") + item(i);
  return R"({"took":1,"errors":true,"items":[)" + items + "]}";
}

std::vector<std::size_t> from(std::size_t begin, std::size_t end) {
  std::vector<std::size_t> v;
  for (std::size_t i = begin; i < end; ++i) v.push_back(i);
  return v;
}

http::Response ok_200(const http::Request&) {
  return http::make_response(200, "ok");
}

std::vector<Harness> harnesses() {
  std::vector<Harness> h;
  h.push_back({"s3", "", Wire::http,
               [](std::uint16_t port, const fs::path&) {
                 return Settings{{"EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME", "conformance-bucket"},
                                 {"EXTENSION_LOG_DESTINATION_S3_ENDPOINT", local(port)}};
               },
               [](const http::Request&) { return http::make_response(200, ""); },
               [](const Observed& o) { return http_bodies_lines(o, "PUT"); },
               [](const Observed& o) {  // the object keys (in the targets)
                 std::vector<std::string> keys;
                 for (const auto& r : o.requests)
                   if (r.method == "PUT") keys.push_back(r.target);
                 return keys;
               }});
  // A flush larger than an object: the first object is stored, the second refused for now.
  h.back().partial =
      PartialCase{40,
                  2000,
                  {{"EXTENSION_LOG_DESTINATION_S3_MAX_OBJECT_BYTES", "65536"}},
                  [](const http::Request&, std::size_t nth) { return http::make_response(nth == 0 ? 200 : 503, ""); },
                  [](const Observed& o) {
                    return std::pair{from(lines_of(o.requests.at(0).body).size(), 40), std::vector<std::size_t>{}};
                  }};

  h.push_back({"elasticsearch", "", Wire::http,
               [](std::uint16_t port, const fs::path&) {
                 return Settings{{"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", local(port)},
                                 {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_COMPRESSION", "none"}};
               },
               [](const http::Request& r) {
                 if (r.method == "GET") return http::make_response(200, R"({"version":{"number":"8.11.0"}})");
                 return http::make_response(200, R"({"took":1,"errors":false,"items":[]})");
               },
               [](const Observed& o) { return bulk_lines(o, false); },
               [](const Observed& o) {  // the _id of every action line
                 std::vector<std::string> ids;
                 for (const auto& action : bulk_lines(o, true)) {
                   const auto v = boost::json::parse(action);
                   ids.emplace_back(v.as_object().begin()->value().at("_id").as_string());
                 }
                 return ids;
               },
               On413::split});
  // Per-item outcomes: stored, busy (retry), mapping error (for good), unavailable (retry), already there.
  h.back().partial = PartialCase{
      5,
      100,
      {},
      [](const http::Request& r, std::size_t) {
        static constexpr std::array<const char*, 5> items = {
            R"({"create":{"status":201}})",
            R"({"create":{"status":429,"error":{"type":"es_rejected_execution_exception"}}})",
            R"({"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad"}}})",
            R"({"create":{"status":503,"error":{"type":"unavailable_shards_exception"}}})",
            R"({"create":{"status":409,"error":{"type":"version_conflict_engine_exception"}}})"};
        return http::make_response(200, bulk_items(r, [](std::size_t i) { return std::string(items.at(i)); }));
      },
      [](const Observed&) {
        return std::pair{std::vector<std::size_t>{1, 3}, std::vector<std::size_t>{2}};
      }};

  const auto logstash_documents = [](const Observed& o) { return http_bodies_lines(o, "POST"); };
  h.push_back({"logstash", "http", Wire::http,
               [](std::uint16_t port, const fs::path&) {
                 return Settings{{"EXTENSION_LOG_DESTINATION_LOGSTASH_URL", local(port, "http")}};
               },
               ok_200, logstash_documents, nullptr, On413::split});
  // Split after a 413: the first half stored, the second refused for now.
  h.back().partial =
      PartialCase{10,
                  200,
                  {},
                  [](const http::Request&, std::size_t nth) {
                    return http::make_response(nth == 0 ? 413 : nth == 1 ? 200 : 500, "");
                  },
                  [](const Observed& o) {
                    return std::pair{from(lines_of(o.requests.at(1).body).size(), 10), std::vector<std::size_t>{}};
                  }};

  h.push_back({"logstash", "tcp", Wire::tcp,
               [](std::uint16_t port, const fs::path&) {
                 return Settings{{"EXTENSION_LOG_DESTINATION_LOGSTASH_URL", local(port, "tcp")}};
               },
               nullptr,
               [](const Observed& o) {
                 std::vector<std::string> docs;
                 for (const auto& c : o.connections)
                   for (auto& l : lines_of(c)) docs.push_back(std::move(l));
                 return docs;
               },
               nullptr});

  h.push_back({"file", "", Wire::file,
               [](std::uint16_t, const fs::path& dir) {
                 return Settings{{"EXTENSION_LOG_DESTINATION_FILE_DIRECTORY", dir.string()}};
               },
               nullptr,
               [](const Observed& o) {
                 std::vector<std::string> docs;
                 for (const auto& e : fs::directory_iterator(o.directory))
                   for (auto& l : lines_of(test::read_file(e.path()))) docs.push_back(std::move(l));
                 return docs;
               },
               [](const Observed& o) {  // the file names
                 std::vector<std::string> names;
                 for (const auto& e : fs::directory_iterator(o.directory)) names.push_back(e.path().filename());
                 std::sort(names.begin(), names.end());
                 return names;
               }});
  return h;
}

// The suite's parameters come from the registry: each kind with each of its harnesses, or alone (nullptr)
// when it has none, which fails every test.
struct Case {
  const DestinationType* type;
  std::optional<Harness> harness;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  const auto table = harnesses();
  for (const auto& type : destination_types()) {
    bool found = false;
    for (const auto& h : table)
      if (h.destination == type.name) out.push_back({&type, h}), found = true;
    if (!found) out.push_back({&type, std::nullopt});
  }
  return out;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string name(info.param.type->name);
  if (info.param.harness && !info.param.harness->variant.empty())
    name += "_" + std::string(info.param.harness->variant);
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.type->name;
  if (c.harness && !c.harness->variant.empty()) *os << " (" << c.harness->variant << ")";
}

TEST(ConformanceRegistry, EveryDestinationKindHasAHarness) {
  for (const auto& c : cases())
    EXPECT_TRUE(c.harness) << "destination '" << c.type->name << "' has no harness in conformance_test.cpp";
}

// ---- The fixture: the harness's destination against fresh fakes ------------------------------------------

buffer::Batch make_batch(std::size_t n, std::uint64_t origin, std::uint64_t first_sequence, std::size_t pad = 100) {
  buffer::Batch b;
  for (std::size_t i = 0; i < n; ++i) {
    const auto seq = first_sequence + i;
    b.documents.push_back({R"({"@timestamp":"2024-05-02T10:15:30.520Z","message":"document )" + std::to_string(origin) +
                               "-" + std::to_string(seq) + R"(","pad":")" + std::string(pad, 'x') + "\"}",
                           EpochMs{1714644930520 + static_cast<std::int64_t>(seq)}, "{}", seq, origin});
    b.bytes += b.documents.back().bytes();
  }
  return b;
}

std::vector<std::string> jsons(const buffer::Batch& b) {
  std::vector<std::string> out;
  for (const auto& d : b.documents) out.push_back(d.json);
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

struct Conformance : ::testing::TestWithParam<Case> {
  asio::io_context io;  // first: destroyed last, after everything holding its sockets
  std::vector<http::Request> requests;
  std::function<http::Response(const http::Request&)> answer;
  std::unique_ptr<http::Server> server;
  std::vector<std::unique_ptr<RawPeer>> peers;  // kept to the end: behaviours hold references into them
  RawPeer* peer = nullptr;                      // the latest
  std::vector<std::string> no_connections;
  test::TempDir dir;
  fs::path directory = dir.path / "out";
  const Harness* h = nullptr;
  pipeline::FunctionContext function{"conformance-fn", "$LATEST", "eu-west-1", ""};
  Logger log{nullptr};
  std::map<std::string, std::string> env{{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                                         {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
                                         {"AWS_SESSION_TOKEN", "token"},
                                         {"AWS_REGION", "eu-west-1"}};

  void SetUp() override {
    if (!GetParam().harness) GTEST_FAIL() << "no conformance harness for '" << GetParam().type->name << "'";
    h = &*GetParam().harness;
    if (h->ok_answer) answer = h->ok_answer;
  }

  Observed observed() const { return {requests, peer ? peer->received : no_connections, directory}; }
  void forget() {
    requests.clear();
    if (peer) peer->received.clear();
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(directory, ec)) fs::remove(e.path());
  }
  void serve_http() {
    auto s = http::Server::start(io, {}, [this](http::Request r) -> asio::awaitable<http::Response> {
      requests.push_back(r);
      co_return answer(requests.back());
    });
    ASSERT_TRUE(s) << s.error().message;
    server = std::move(*s);
  }
  // The destination against the harness's usual peer (a 2xx-answering server, a tcp input reading to the
  // end, a directory), or against `raw` when given.
  std::unique_ptr<Destination> make(RawPeer::Behaviour raw = nullptr, const Settings& extra = {}) {
    std::uint16_t port = 0;
    if (raw || h->wire == Wire::tcp) {
      peers.push_back(std::make_unique<RawPeer>(io, raw ? raw : read_to_end));
      peer = peers.back().get();
      port = peer->port();
    } else if (h->wire == Wire::http) {
      serve_http();
      port = server ? server->port() : 0;
    }
    config::Config cfg;
    for (const auto& row : GetParam().type->settings) cfg.set(row.name, std::string(row.default_value));
    for (const auto& [k, v] : h->settings(port, directory)) cfg.set(k, v);
    for (const auto& [k, v] : extra) cfg.set(k, v);
    auto getenv = [this](std::string_view n) -> std::optional<std::string> {
      auto it = env.find(std::string(n));
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto d = GetParam().type->make(Context{cfg, function, log, io.get_executor(), getenv});
    EXPECT_TRUE(d) << (d ? "" : d.error().message);
    return d ? std::move(*d) : nullptr;
  }
  SendResult send(Destination& d, const buffer::Batch& b, milliseconds within = milliseconds(5000)) {
    return test::run_sync(io, d.send(b, std::chrono::steady_clock::now() + within));
  }
  // Lets handlers still queued (a deadline's, a late completion) run before the fakes go away.
  void settle() {
    asio::steady_timer t(io, milliseconds(50));
    test::run_sync(io, [&]() -> asio::awaitable<int> {
      co_await t.async_wait(use_tuple);
      co_return 0;
    }());
  }
};

// ---- 1. ok: every document arrives exactly once ---------------------------------------------------------

TEST_P(Conformance, AnAcceptingPeerMeansOkAndEveryDocumentArrivesExactlyOnce) {
  auto d = make();
  ASSERT_TRUE(d);
  const auto batch = make_batch(25, 0xc0ffee, 1);
  const auto r = send(*d, batch);
  EXPECT_EQ(r.kind, Kind::ok) << r.message;
  EXPECT_TRUE(r.failed.empty());
  EXPECT_TRUE(r.rejected.empty());
  // Unchanged, each once: the same multiset of texts.
  EXPECT_EQ(sorted(h->documents(observed())), sorted(jsons(batch)));
}

// ---- 2. 429 and 5xx: retryable, with Retry-After carried ------------------------------------------------

TEST_P(Conformance, BusyOrFailingPeerAnswersAreRetryable) {
  if (h->wire == Wire::file) {
    // A file has no peer to answer; the failure it has (the directory gone after init) is what the code
    // returns today: retryable (a local write may succeed later, once the directory is back).
    auto d = make();
    ASSERT_TRUE(d);
    fs::remove_all(directory);
    const auto r = send(*d, make_batch(3, 1, 1));
    EXPECT_EQ(r.kind, Kind::retryable) << r.message;
    return;
  }
  if (h->wire == Wire::tcp) {
    // The tcp input answers nothing: its only refusals are a reset midway and a close before ours.
    auto reset = make(reset_midway);
    ASSERT_TRUE(reset);
    EXPECT_EQ(send(*reset, make_batch(2000, 1, 1)).kind, Kind::retryable);
    auto early = make([](tcp::socket s, std::string&) -> asio::awaitable<void> {
      s.close();
      co_return;
    });
    ASSERT_TRUE(early);
    EXPECT_EQ(send(*early, make_batch(3, 1, 1)).kind, Kind::retryable);
    return;
  }
  auto d = make();
  ASSERT_TRUE(d);
  for (const int status : {429, 500, 502, 503, 504}) {
    answer = [status](const http::Request&) { return http::make_response(status, "busy"); };
    const auto r = send(*d, make_batch(3, 1, 1));
    EXPECT_EQ(r.kind, Kind::retryable) << status << ": " << r.message;
    EXPECT_FALSE(r.retry_after) << status << ": no Retry-After was given";
  }
  for (const int status : {429, 503}) {
    answer = [status](const http::Request&) {
      auto res = http::make_response(status, "busy");
      res.headers.push_back({"Retry-After", "7"});
      return res;
    };
    const auto r = send(*d, make_batch(3, 1, 1));
    EXPECT_EQ(r.kind, Kind::retryable) << status << ": " << r.message;
    EXPECT_EQ(r.retry_after, std::optional<milliseconds>(std::chrono::seconds(7))) << status;
  }
}

// ---- 3. 401, 403 and other 4xx: permanent; 413 as each destination deliberately does -----------------------

TEST_P(Conformance, RefusingPeerAnswersArePermanent) {
  if (h->wire != Wire::http)
    GTEST_SKIP() << "no answer of a " << (h->wire == Wire::tcp ? "tcp input" : "local write")
                 << " says 'never': every failure is retryable (tested above)";
  auto d = make();
  ASSERT_TRUE(d);
  for (const int status : {400, 401, 403, 404, 405, 422}) {
    answer = [status](const http::Request&) { return http::make_response(status, "refused"); };
    const auto r = send(*d, make_batch(3, 1, 1));
    EXPECT_EQ(r.kind, Kind::permanent) << status << ": " << r.message;
    EXPECT_NE(r.message, "") << status;
  }
}

TEST_P(Conformance, ATooLargeAnswerIsPermanentOrSplitsTheBatchAsTheDestinationChose) {
  if (h->wire != Wire::http) GTEST_SKIP() << "413 is an HTTP answer";
  constexpr std::size_t limit = 2000;
  auto d = make();
  ASSERT_TRUE(d);
  const auto ok = answer;
  answer = [&ok](const http::Request& r) {
    if (r.method != "GET" && r.body.size() > limit) return http::make_response(413, "too large");
    return ok(r);
  };
  auto batch = make_batch(12, 2, 1, 200);
  batch.documents[5].json = R"({"message":"big","pad":")" + std::string(3000, 'y') + "\"}";
  const auto r = send(*d, batch);
  if (h->on_413 == On413::permanent) {
    EXPECT_EQ(r.kind, Kind::permanent) << r.message;
    return;
  }
  // Split: smaller requests until each fits; the one document too large alone is refused for good.
  EXPECT_EQ(r.kind, Kind::ok) << r.message;
  EXPECT_EQ(r.rejected, (std::vector<std::size_t>{5}));
  auto expected = jsons(batch);
  expected.erase(expected.begin() + 5);
  std::vector<std::string> accepted;  // the documents of the requests that were not refused
  std::vector<http::Request> fitting;
  for (const auto& q : requests)
    if (q.body.size() <= limit) fitting.push_back(q);
  const std::vector<std::string> none;
  for (auto& doc : h->documents({fitting, none, directory})) accepted.push_back(std::move(doc));
  EXPECT_EQ(sorted(accepted), sorted(expected));
}

// ---- 4. never past the deadline ----------------------------------------------------------------------------

TEST_P(Conformance, APeerThatNeverAnswersEndsRetryableByTheDeadline) {
  constexpr auto within = milliseconds(250), slack = milliseconds(500);
  if (h->wire == Wire::file) {
    // A local write has no peer to wait for (send does not consult the deadline): it just must be prompt.
    auto d = make();
    ASSERT_TRUE(d);
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(send(*d, make_batch(25, 1, 1), within).kind, Kind::ok);
    EXPECT_LT(std::chrono::steady_clock::now() - started, within + slack);
    return;
  }
  for (const auto& [what, behaviour] : {std::pair<std::string, RawPeer::Behaviour>{"silent", silent},
                                        std::pair<std::string, RawPeer::Behaviour>{"endlessly slow", trickle}}) {
    auto d = make(behaviour);
    ASSERT_TRUE(d);
    const auto started = std::chrono::steady_clock::now();
    const auto r = send(*d, make_batch(10, 1, 1), within);
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(r.kind, Kind::retryable) << what << ": " << r.message;
    EXPECT_LT(took, within + slack) << what << ": took " << std::chrono::duration_cast<milliseconds>(took).count()
                                    << " ms";
    d.reset();
    settle();
  }
}

// ---- 5. partial results ---------------------------------------------------------------------------------

TEST_P(Conformance, APartialResultNamesOnlyIndexesOfTheBatchEachOnce) {
  if (!h->partial) GTEST_SKIP() << h->destination << " never answers partial: a batch goes in one piece";
  const auto& p = *h->partial;
  auto d = make(nullptr, p.settings);
  ASSERT_TRUE(d);
  std::size_t nth = 0;
  answer = [&](const http::Request& r) {
    if (r.method == "GET") return h->ok_answer(r);
    return p.answer(r, nth++);
  };
  const auto batch = make_batch(p.documents, 3, 1, p.document_bytes);
  const auto r = send(*d, batch);
  ASSERT_EQ(r.kind, Kind::partial) << r.message;
  EXPECT_FALSE(r.failed.empty());
  EXPECT_NE(r.message, "");
  std::set<std::size_t> seen;
  for (const auto* list : {&r.failed, &r.rejected})
    for (const auto i : *list) {
      EXPECT_LT(i, batch.documents.size());
      EXPECT_TRUE(seen.insert(i).second) << "index " << i << " is named twice (failed and rejected are disjoint)";
    }
  const auto [failed, rejected] = p.expected(observed());
  EXPECT_EQ(r.failed, failed);
  EXPECT_EQ(r.rejected, rejected);
}

// ---- 6. stable ids ------------------------------------------------------------------------------------------

TEST_P(Conformance, TheSameBatchSentTwiceCarriesTheSameIds) {
  auto d = make();
  ASSERT_TRUE(d);
  const auto batch = make_batch(10, 0xabc, 41);
  ASSERT_EQ(send(*d, batch).kind, Kind::ok);
  const auto first_docs = h->documents(observed());
  const auto first_ids = h->ids ? h->ids(observed()) : std::vector<std::string>{};
  forget();
  ASSERT_EQ(send(*d, batch).kind, Kind::ok);
  // Documents travel unchanged, in order (Logstash has no ids: this is all it promises).
  EXPECT_EQ(first_docs, jsons(batch));
  EXPECT_EQ(h->documents(observed()), jsons(batch));
  if (!h->ids) return;
  ASSERT_FALSE(first_ids.empty());
  EXPECT_EQ(h->ids(observed()), first_ids);
}

TEST_P(Conformance, ADifferentBatchCarriesOtherIds) {
  if (!h->ids) GTEST_SKIP() << h->destination << " sends no ids (documents only, checked above)";
  auto d = make();
  ASSERT_TRUE(d);
  ASSERT_EQ(send(*d, make_batch(10, 0xabc, 41)).kind, Kind::ok);
  const auto first = h->ids(observed());
  forget();
  // Another environment's documents with the same sequences, then this one's next documents.
  for (const auto& other : {make_batch(10, 0xdef, 41), make_batch(10, 0xabc, 51)}) {
    ASSERT_EQ(send(*d, other).kind, Kind::ok);
    const auto ids = h->ids(observed());
    ASSERT_FALSE(ids.empty());
    for (const auto& id : ids) EXPECT_EQ(std::count(first.begin(), first.end(), id), 0) << id;
    forget();
  }
}

INSTANTIATE_TEST_SUITE_P(Registry, Conformance, ::testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace elk::destinations
