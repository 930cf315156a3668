// Fault tests of the delivery guarantees (README "Delivery guarantees"): the real elk-extension under the
// emulator against a strict Elasticsearch-compatible endpoint that goes down, answers 503, is slow, while
// the extension is killed and restarted with the same /tmp. Each asserts that nothing is lost and nothing
// doubled, unless it says why.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <set>
#include <thread>

#include "fakes/elastic.h"
#include "harness.h"

namespace elk::itest {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string message_of(const json::object& d) {
  const auto* m = d.if_contains("message");
  return m && m->is_string() ? std::string(m->get_string()) : std::string();
}
std::string action_of(const json::object& d) {
  const auto* e = d.if_contains("event");
  if (!e || !e->is_object()) return {};
  const auto* a = e->as_object().if_contains("action");
  return a && a->is_string() ? std::string(a->get_string()) : std::string();
}

// Tokens of the function lines Elasticsearch holds (of one function, when named), and how often each was stored.
std::map<std::string, int> tokens_in(const fakes::FakeElasticsearch& es, const std::string& function = "") {
  std::map<std::string, int> out;
  for (const auto& d : es.all_documents()) {
    if (action_of(d.source) != "function") continue;
    if (!function.empty() && d.source.at("faas").at("name") != function.c_str()) continue;
    if (auto t = token_of(message_of(d.source)); !t.empty()) ++out[t];
  }
  return out;
}

void expect_exactly_once(const std::vector<std::string>& sent, const std::map<std::string, int>& arrived,
                         const std::string& output) {
  for (const auto& t : sent) {
    const auto it = arrived.find(t);
    ASSERT_NE(it, arrived.end()) << "lost " << t << "\n" << output;
    EXPECT_EQ(it->second, 1) << "doubled " << t;
  }
}

// The extension's counters for a destination, as its summary document carries them.
json::object counters_of(const json::object& summary, const std::string& destination) {
  return summary.at("labels").at("extension").at("destinations").at(destination).as_object();
}

void expect_counters_add_up(const json::object& c) {
  const auto n = [&](const char* k) { return c.at(k).to_number<std::int64_t>(); };
  EXPECT_EQ(n("received") + n("restored"), n("delivered") + n("dropped_permanent") + n("dropped_spill_full") +
                                               n("dropped_buffer_full") + n("dropped_torn") + n("rejected") +
                                               n("pending"))
      << json::serialize(c);
}

RunOptions es_run(const fakes::FakeElasticsearch& es, int invocations, const fs::path& spill) {
  RunOptions o;
  o.invocations = invocations;
  o.file_destination = false;
  o.env = {{"EXTENSION_LOG_DESTINATIONS", "elasticsearch"},
           {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", es.url()},
           {"EXTENSION_LOG_SPILL_DIRECTORY", spill.string()},
           {"EXTENSION_LOG_FLUSH_MAX_WAIT_MS", "400"}};
  return o;
}

// The heavy scenarios run the release extension and emulator (`make test` builds them and sets
// ELK_RELEASE_BIN): under the sanitizers, 100,000 lines take a minute and memory is the sanitizer's.
bool use_release_build(RunOptions& o) {
  const char* release = std::getenv("ELK_RELEASE_BIN");
  if (release == nullptr || !fs::exists(release)) return false;
  const auto emulator = fs::path(release).parent_path() / "lambda-emulator";
  if (!fs::exists(emulator)) return false;
  o.extension_bin = release;
  o.emulator_bin = emulator.string();
  return true;
}

struct Scratch {  // a directory for switch files and the spill, removed at the end
  fs::path dir = fs::temp_directory_path() / ("elk-fault-" + std::to_string(::getpid()) + "-" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  Scratch() {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
};

// Destination down for invocations 10-20 of 50, then back: every line arrives, once. Default settings:
// invocations 200 ms apart are frequent, so records leave on the batch timer (1 s), in the background; the
// 2.2 s down meet at least one of those flushes.
void down_for_invocations_10_to_20(bool refuse_connections) {
  Scratch s;
  fakes::FakeElasticsearch es;
  const auto down = s.dir / "down";
  const auto is_down = [down] { return fs::exists(down); };
  if (refuse_connections)
    es.refuse_connections_while(is_down);
  else
    es.fail_while(is_down, fakes::HttpFault{503});
  auto o = es_run(es, 50, s.dir / "spill");
  o.lines = 4;
  o.extra_args = {"--idle-ms",           "199",
                  "--before-invocation", "10=touch '" + down.string() + "'",
                  "--before-invocation", "21=rm -f '" + down.string() + "'"};
  const auto r = run(o);
  ASSERT_EQ(r.emulator_exit, 0) << r.output;
  expect_exactly_once(r.sent_tokens(), tokens_in(es), r.output);
  EXPECT_EQ(r.sent_tokens().size(), 50u * 4u);
  EXPECT_TRUE(es.duplicates().empty());
  // It was down, and what waited went through the spill.
  EXPECT_NE(r.output.find("spilled"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("of them replayed from the spill"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("NOT delivered"), std::string::npos) << r.output;
}

TEST(Delivery, DestinationRefusingConnectionsForInvocations10To20LosesAndDoublesNothing) {
  down_for_invocations_10_to_20(true);
}

TEST(Delivery, DestinationAnswering503ForInvocations10To20LosesAndDoublesNothing) {
  down_for_invocations_10_to_20(false);
}

// kill -9 mid-flush, then a new extension process with the same /tmp (as Lambda after a reset): what was
// spilled arrives, once; a torn spill file gives up its intact records and nothing else.
TEST(Delivery, AKillMidFlushLosesNothingSpilledAndTheNextProcessSendsIt) {
  Scratch s;
  fakes::FakeElasticsearch es;
  const auto down = s.dir / "down";
  es.fail_while([down] { return fs::exists(down); }, fakes::HttpFault{503});
  std::ofstream(down) << "";
  // First environment: down throughout; invocations 1-5 end in the spill. During 6, killed mid-flush.
  // Invocations 1.1 s apart are rare: under the default policy each one's records are sent (here: spilled)
  // before next. Two environments of one function, told apart by name: their lines carry the same tokens.
  auto o = es_run(es, 6, s.dir / "spill");
  o.extra_args = {"--idle-ms",       "1100", "--kill-at-invocation", "6",
                  "--kill-delay-ms", "150",  "--function-name",      "first-env"};
  const auto first = run(o);
  ASSERT_EQ(first.emulator_exit, 0) << first.output;
  EXPECT_EQ(first.extension().at("plannedKill"), true) << first.output;
  EXPECT_EQ(es.document_count(), 0u);
  std::vector<std::string> spilled;  // invocations 1-5
  for (const auto& t : first.sent_tokens())
    if (!t.starts_with("inv=6 ")) spilled.push_back(t);
  ASSERT_EQ(spilled.size(), 25u);

  // A torn file beside them, as a kill mid-write leaves it, and something that is no spill file at all.
  const auto lane = s.dir / "spill" / "elasticsearch";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(lane)) files.push_back(e.path());
  ASSERT_GE(files.size(), 5u);
  std::sort(files.begin(), files.end());
  const auto torn = lane / "9000000000000000-3.spill";
  {
    std::ifstream in(files.back(), std::ios::binary);
    std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(torn, std::ios::binary) << whole.substr(0, whole.size() - 7);
  }
  std::ofstream(lane / "9000000000000001-2.spill", std::ios::binary) << "not a spill file";

  // Second environment: the destination is back.
  fs::remove(down);
  auto again = es_run(es, 2, s.dir / "spill");
  again.extra_args = {"--function-name", "second-env"};
  const auto second = run(again);
  ASSERT_EQ(second.emulator_exit, 0) << second.output;
  const auto stored = tokens_in(es, "first-env");
  for (const auto& t : spilled) {
    // Each spilled line once — or twice where the copy in the torn file repeats it (the test made that copy).
    const auto it = stored.find(t);
    ASSERT_NE(it, stored.end()) << "lost " << t << "\n" << first.output << second.output;
  }
  const auto stored_second = tokens_in(es, "second-env");
  for (const auto& t : second.sent_tokens()) EXPECT_EQ(stored_second.count(t) ? stored_second.at(t) : 0, 1) << t;
  EXPECT_TRUE(es.duplicates().empty()) << "same id stored twice";
  EXPECT_NE(second.output.find("found "), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("dropped (torn spill)"), std::string::npos) << second.output;
  // The torn copy repeats documents of an intact file with the same ids: Elasticsearch answered 409 for them.
  for (const auto& [t, n] : stored) EXPECT_EQ(n, 1) << t;
}

// SIGTERM (the Runtime Interface Emulator, `docker stop`) used to lose what was in memory. Now it goes to the
// spill and the next process in the environment sends it: every line once. Invocations back to back are
// frequent, so most records are waiting for the batch timer when the signal comes.
TEST(Delivery, ASigtermSpillsWhatIsInMemoryAndTheNextProcessSendsIt) {
  Scratch s;
  fakes::FakeElasticsearch es;
  auto o = es_run(es, 4, s.dir / "spill");
  o.lines = 20;
  o.extra_args = {"--kill-at-invocation", "4", "--kill-signal", "TERM", "--function-name", "first-env"};
  const auto first = run(o);
  ASSERT_EQ(first.emulator_exit, 0) << first.output;
  EXPECT_EQ(first.extension().at("exitCode"), 0) << first.output;
  EXPECT_NE(first.output.find("SIGTERM: what was waiting in memory went to the spill"), std::string::npos)
      << first.output;
  auto again = es_run(es, 1, s.dir / "spill");
  again.extra_args = {"--function-name", "second-env"};
  const auto second = run(again);
  ASSERT_EQ(second.emulator_exit, 0) << second.output;
  const auto stored = tokens_in(es, "first-env");
  ASSERT_EQ(first.sent_tokens().size(), 80u);
  for (const auto& t : first.sent_tokens()) {
    const auto it = stored.find(t);
    ASSERT_NE(it, stored.end()) << "lost " << t << "\n" << first.output << second.output;
    EXPECT_EQ(it->second, 1) << t;
  }
  EXPECT_TRUE(es.duplicates().empty());
}

// SHUTDOWN with 100,000 lines buffered and a destination too slow to take them: the extension still exits
// before the deadline and says how many it could not send.
TEST(Delivery, AShutdownWithALargeBacklogAndASlowDestinationEndsInTimeAndReportsWhatIsLeft) {
  Scratch s;
  fakes::FakeElasticsearch es;
  es.set_response_delay(5000ms);
  auto o = es_run(es, 1, s.dir / "spill");
  if (!use_release_build(o)) GTEST_SKIP() << "ELK_RELEASE_BIN not set (make test sets it)";
  o.lines = 100000;
  o.extra_args = {"--invoke-ms", "200"};
  const auto r = run(o);
  EXPECT_EQ(r.emulator_exit, 0) << r.output.substr(0, 4000);
  const auto& ext = r.extension();
  EXPECT_EQ(ext.at("exitedBeforeDeadline"), true) << json::serialize(ext);
  EXPECT_EQ(ext.at("killed"), false);
  const auto at = r.output.find("NOT delivered: ");
  ASSERT_NE(at, std::string::npos) << r.output.substr(0, 4000);
  EXPECT_GT(std::stoll(r.output.substr(at + 15)), 0);
}

// 100 MB of log lines in one invocation, arriving faster than one core can write them, while Elasticsearch
// is down: memory stays within the bound plus a fixed overhead (the release binary: no sanitizer's memory),
// what memory cannot hold goes to the spill, past the spill's bound the oldest of the destination holding
// the most are dropped — and every record is accounted for: the counters add up, nothing arrives twice.
TEST(Delivery, AHundredMegabyteBurstKeepsMemoryBoundedAndTheCountersAddUp) {
  Scratch s;
  fakes::FakeElasticsearch es;
  es.refuse_connections_while([] { return true; });
  RunOptions o;
  if (!use_release_build(o)) GTEST_SKIP() << "ELK_RELEASE_BIN not set (make test sets it)";
  o.invocations = 1;
  o.lines = 100000;
  o.extra_args = {"--line-bytes", "1000", "--invoke-ms", "500", "--shutdown-deadline-ms", "4000"};
  o.env = {{"EXTENSION_LOG_DESTINATIONS", "file,elasticsearch"},
           {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", es.url()},
           {"EXTENSION_LOG_SPILL_DIRECTORY", (s.dir / "spill").string()},
           {"EXTENSION_LOG_MAX_BUFFER_BYTES", "8388608"},
           {"EXTENSION_LOG_SPILL_MAX_BYTES", "33554432"}};
  const auto r = run(o);
  ASSERT_EQ(r.emulator_exit, 0) << r.output.substr(0, 4000);
  const auto hwm_kb = r.extension().at("hwmKb").to_number<std::int64_t>();
  RecordProperty("peak_rss_kb", std::to_string(hwm_kb));
  std::printf("peak RSS of the extension: %lld kB\n", static_cast<long long>(hwm_kb));
  EXPECT_LT(hwm_kb, 8 * 1024 + 40 * 1024) << "peak RSS over the 8 MB bound + 40 MB";
  // The file destination: what it says it delivered is what is in its files, each line at most once.
  const auto at = r.output.find("file: delivered ");
  ASSERT_NE(at, std::string::npos) << r.output.substr(0, 4000);
  EXPECT_EQ(static_cast<long long>(r.documents.size()), std::stoll(r.output.substr(at + 16)));
  for (const auto& [t, n] : r.arrived_tokens()) ASSERT_EQ(n, 1) << t;
  // Elasticsearch's share went to the spill, and past its 32 MB, the oldest were dropped, counted.
  const json::object* summary = nullptr;
  for (const auto& d : r.documents)
    if (action_of(d) == "extension.summary") summary = &d;
  ASSERT_NE(summary, nullptr);
  const auto es_counters = counters_of(*summary, "elasticsearch");
  expect_counters_add_up(es_counters);
  expect_counters_add_up(counters_of(*summary, "file"));
  EXPECT_GT(es_counters.at("spilled").to_number<std::int64_t>(), 0);
  EXPECT_GT(es_counters.at("dropped_spill_full").to_number<std::int64_t>(), 0);
  std::uint64_t spill_bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(s.dir / "spill"))
    if (e.is_regular_file()) spill_bytes += e.file_size();
  EXPECT_LE(spill_bytes, 33554432u);
}

// The memory bound used to be enforced only while a flush ran: one 2 MB delivery of short lines (its documents
// several times its size) took the extension to 27 MB with a 1 MiB bound. A delivery of the largest body the
// listener takes (2 MB), posted while the function runs: its documents go to the spill as they are made, and
// every one arrives once.
TEST(Delivery, OneLargeDeliveryOfShortLinesKeepsWithinTheMemoryBound) {
  Scratch s;
  RunOptions o;
  if (!use_release_build(o)) GTEST_SKIP() << "ELK_RELEASE_BIN not set (make test sets it)";
  std::string body = "[";
  std::size_t records = 0;
  while (body.size() < 2 * 1024 * 1024 - 100) {
    body += (records ? "," : "") +
            std::string(R"({"time":"2024-05-02T11:00:00.102Z","type":"function","record":"big )") +
            std::to_string(records) + "\"}";
    ++records;
  }
  body += "]";
  std::ofstream(s.dir / "big.json") << body;
  int port = 0;
  {  // a free port for the listener, so that the command below can post to it
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  std::ofstream(s.dir / "post.py") << "import urllib.request\n"
                                      "d = open('"
                                   << (s.dir / "big.json").string()
                                   << "', 'rb').read()\n"
                                      "urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:"
                                   << port << "/', data=d, method='POST'))\n";
  o.invocations = 2;
  o.lines = 1;
  // In the background: the extension is frozen until invocation 2 is handed to it; it runs 1.5 s.
  o.extra_args = {"--invoke-ms", "1500", "--before-invocation",
                  "2=/usr/bin/python3 " + (s.dir / "post.py").string() + " &"};
  o.env = {{"EXTENSION_LOG_SPILL_DIRECTORY", (s.dir / "spill").string()},
           {"EXTENSION_LOG_MAX_BUFFER_BYTES", "1048576"},
           {"EXTENSION_LOG_LISTENER_PORT", std::to_string(port)}};
  const auto r = run(o);
  ASSERT_EQ(r.emulator_exit, 0) << r.output.substr(0, 4000);
  std::set<std::string> big;
  for (const auto& d : r.documents) {
    const auto* m = d.if_contains("message");
    if (!m || !m->is_string() || !m->get_string().starts_with("big ")) continue;
    EXPECT_TRUE(big.insert(std::string(m->get_string())).second) << "doubled: " << m->get_string();
  }
  EXPECT_EQ(big.size(), records) << r.output.substr(0, 4000);
  const auto hwm_kb = r.extension().at("hwmKb").to_number<std::int64_t>();
  RecordProperty("peak_rss_kb", std::to_string(hwm_kb));
  std::printf("peak RSS of the extension: %lld kB\n", static_cast<long long>(hwm_kb));
  EXPECT_LT(hwm_kb, 1024 + 17 * 1024) << "peak RSS over the 1 MiB bound + 17 MB (it was 27 MB)";
}

// A function that timed out: Lambda resets the environment with SHUTDOWN "timeout"; a document says so.
TEST(Delivery, ATimeoutShutdownIsExplainedByADocument) {
  RunOptions o;
  o.invocations = 2;
  o.extra_args = {"--shutdown-reason", "timeout"};
  const auto r = run(o);
  ASSERT_EQ(r.emulator_exit, 0) << r.output;
  const json::object* notice = nullptr;
  for (const auto& d : r.documents)
    if (action_of(d) == "extension.shutdown") notice = &d;
  ASSERT_NE(notice, nullptr) << r.output;
  EXPECT_EQ(notice->at("log").at("level"), "error");
  EXPECT_NE(message_of(*notice).find("timeout"), std::string::npos);
  EXPECT_TRUE(notice->at("faas").as_object().contains("execution"));
}

// Periodic flushing: nothing waits at the end of an invocation, and still every line arrives, once.
TEST(Delivery, PeriodicFlushDeliversEveryLineOnce) {
  RunOptions o;
  o.invocations = 12;
  o.env = {{"EXTENSION_LOG_FLUSH", "periodic,200"}};
  o.extra_args = {"--invoke-ms", "20"};
  const auto r = run(o);
  ASSERT_EQ(r.emulator_exit, 0) << r.output;
  const auto arrived = r.arrived_tokens();
  for (const auto& t : r.sent_tokens()) EXPECT_EQ(arrived.count(t) ? arrived.at(t) : 0, 1) << t;
  EXPECT_EQ(r.sent_tokens().size(), 12u * 5u);
}

// A spill directory that cannot be used is said once; the extension runs on without one.
TEST(Delivery, AnUnusableSpillDirectoryIsReportedAndTheExtensionRunsWithoutOne) {
  RunOptions o;
  o.invocations = 2;
  o.env = {{"EXTENSION_LOG_SPILL_DIRECTORY", "/proc/version/spill"}};
  const auto r = run(o);
  ASSERT_EQ(r.emulator_exit, 0) << r.output;
  EXPECT_NE(r.output.find("running without a spill"), std::string::npos) << r.output;
  EXPECT_EQ(r.sent_tokens().size(), 10u);
  EXPECT_EQ(r.arrived_tokens().size(), 10u);
}

}  // namespace
}  // namespace elk::itest
