// The real elk-extension under the bundled Lambda emulator, shipping to the file destination.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "harness.h"

namespace elk::itest {
namespace {

namespace json = boost::json;

// Every function line the emulator sent arrived exactly once.
void expect_every_line_exactly_once(const RunResult& r, std::size_t expected_lines) {
  const auto sent = r.sent_tokens();
  EXPECT_EQ(sent.size(), expected_lines) << r.output;
  const auto arrived = r.arrived_tokens();
  for (const auto& t : sent) {
    auto it = arrived.find(t);
    ASSERT_NE(it, arrived.end()) << "lost: " << t << "\n" << r.output;
    EXPECT_EQ(it->second, 1) << "doubled: " << t;
  }
  EXPECT_EQ(arrived.size(), std::set<std::string>(sent.begin(), sent.end()).size());
}

void expect_clean_exit_before_deadline(const RunResult& r) {
  EXPECT_EQ(r.emulator_exit, 0) << r.output;
  const auto& ext = r.extension();
  EXPECT_EQ(ext.at("exitCode"), 0) << json::serialize(ext);
  EXPECT_EQ(ext.at("exitedBeforeDeadline"), true) << json::serialize(ext);
  EXPECT_EQ(ext.at("killed"), false);
}

std::size_t count_action(const RunResult& r, std::string_view action) {
  std::size_t n = 0;
  for (const auto& d : r.documents) n += d.at("event").at("action").as_string() == action;
  return n;
}

// Default settings, invocations back to back (frequent: records leave in the background, the last at SHUTDOWN).
TEST(Extension, DeliversEveryTextLineOfEveryInvocationExactlyOnce) {
  RunOptions o;
  o.invocations = 10;
  o.lines = 6;
  const auto r = run(o);
  expect_clean_exit_before_deadline(r);
  expect_every_line_exactly_once(r, 10 * 6);
  // The last invocation's report arrives after its next: it must still be shipped at SHUTDOWN.
  EXPECT_EQ(count_action(r, "platform.report"), 10u) << r.output;
  EXPECT_EQ(count_action(r, "platform.start"), 10u);
  EXPECT_EQ(count_action(r, "platform.runtimeDone"), 10u);
}

TEST(Extension, DeliversEveryJsonFormatLineExactlyOnce) {
  RunOptions o;
  o.invocations = 5;
  o.log_format = "json";
  const auto r = run(o);
  expect_clean_exit_before_deadline(r);
  expect_every_line_exactly_once(r, 5 * 5);
  EXPECT_EQ(count_action(r, "platform.report"), 5u);
}

// The default flush policy (auto), invocations far apart: each invocation's lines are at the destination
// before the next INVOKE, so nothing waits in a frozen environment.
TEST(Extension, RareInvocationsLinesLeaveWithinThatInvocation) {
  RunOptions o;
  o.invocations = 4;
  o.extra_args = {"--idle-ms", "1300"};  // further apart than EXTENSION_LOG_TIMEOUT_MS (1000 ms)
  const auto r = run(o);
  expect_clean_exit_before_deadline(r);
  expect_every_line_exactly_once(r, 4 * 5);
  // A file written at the end of invocation i holds no line of a later invocation together with i's.
  for (const auto& [file, tokens] : r.file_tokens) {
    std::set<std::string> invocations;
    for (const auto& t : tokens) invocations.insert(t.substr(0, t.find(' ')));
    EXPECT_EQ(invocations.size(), 1u) << file << " mixes invocations";
  }
  const auto& invs = r.report.at("invocations").as_array();
  ASSERT_EQ(invs.size(), 4u);
  for (std::size_t i = 0; i + 1 < invs.size(); ++i)
    EXPECT_EQ(invs[i].at("linesBeforeNextInvoke").to_number<double>(), 1.0) << i << "\n" << r.output;
  // And every invocation's request id is on its lines.
  std::size_t with_request = 0;
  for (const auto& d : r.documents)
    if (d.at("event").at("action") == "function" && d.at("faas").as_object().contains("execution")) ++with_request;
  EXPECT_GE(with_request, 4u * 5u);
}

// Invocations 100 ms apart: the extension does not hold next for them (records leave in the background, on
// the batch timer while the environment is thawed, the rest at SHUTDOWN), and still every line arrives once.
TEST(Extension, FrequentInvocationsDeliverEveryLineOnceInTheBackgroundAndAtShutdown) {
  RunOptions o;
  o.invocations = 25;
  o.lines = 20;
  o.extra_args = {"--idle-ms", "99"};
  const auto r = run(o);
  expect_clean_exit_before_deadline(r);
  expect_every_line_exactly_once(r, 25 * 20);
  EXPECT_EQ(count_action(r, "platform.report"), 25u) << r.output;
  // Some lines left before SHUTDOWN (on the batch timer), not everything at the end.
  EXPECT_GT(r.file_tokens.size(), 1u);
}

TEST(Extension, LosesNothingWhenLambdaBuffersForOneSecond) {
  // Lambda may be asked to hold telemetry for 1 s, longer than our 500 ms wait for runtimeDone: lines
  // that come late leave with the next flush, or at SHUTDOWN, but they all arrive, once.
  for (const char* flush : {"auto", "end"}) {
    RunOptions o;
    o.invocations = 3;
    o.extra_args = {"--idle-ms", "1200"};
    o.env["EXTENSION_LOG_TELEMETRY_TIMEOUT_MS"] = "1000";
    o.env["EXTENSION_LOG_FLUSH"] = flush;
    const auto r = run(o);
    expect_clean_exit_before_deadline(r);
    expect_every_line_exactly_once(r, 3 * 5);
    EXPECT_EQ(count_action(r, "platform.report"), 3u) << flush;
  }
}

TEST(Extension, FallsBackToTheLogsApiWhereThereIsNoTelemetryApi) {
  RunOptions o;
  o.telemetry_api = false;
  o.invocations = 4;
  const auto r = run(o);
  expect_clean_exit_before_deadline(r);
  expect_every_line_exactly_once(r, 4 * 5);
  bool logs = false;
  for (const auto& s : r.report.at("subscriptions").as_array()) logs |= s.at("api") == "logs";
  EXPECT_TRUE(logs) << json::serialize(r.report.at("subscriptions"));
  EXPECT_NE(r.output.find("using the Logs API instead"), std::string::npos);
}

// Lambda's buffer is not ours: the subscription asks for EXTENSION_LOG_TELEMETRY_TIMEOUT_MS (default 25 ms)
// with Lambda's own maxItems and maxBytes, whatever our batches' bounds are.
TEST(Extension, SubscribesWithItsOwnBufferingAndWithoutItsOwnOutput) {
  for (const char* telemetry_timeout : {"", "40"}) {
    RunOptions o;
    o.invocations = 1;
    o.env["EXTENSION_LOG_MAX_ITEMS"] = "2000";
    o.env["EXTENSION_LOG_MAX_BYTES"] = "300000";
    o.env["EXTENSION_LOG_TIMEOUT_MS"] = "5000";
    if (*telemetry_timeout) o.env["EXTENSION_LOG_TELEMETRY_TIMEOUT_MS"] = telemetry_timeout;
    const auto r = run(o);
    expect_clean_exit_before_deadline(r);
    const auto& subs = r.report.at("subscriptions").as_array();
    ASSERT_EQ(subs.size(), 1u);
    const auto& body = subs[0].at("body").as_object();
    EXPECT_EQ(body.at("schemaVersion"), "2022-12-13");
    EXPECT_EQ(body.at("buffering").at("maxItems"), 10000);
    EXPECT_EQ(body.at("buffering").at("maxBytes"), 262144);
    EXPECT_EQ(body.at("buffering").at("timeoutMs"), *telemetry_timeout ? 40 : 25);
    EXPECT_EQ(json::serialize(body.at("types")), R"(["platform","function"])");
  }
}

TEST(Extension, ClampsAnOutOfRangeBufferingValueWithOneWarningAndRuns) {
  RunOptions o;
  o.invocations = 2;
  o.env["EXTENSION_LOG_MAX_ITEMS"] = "5";
  const auto r = run(o);
  expect_clean_exit_before_deadline(r);
  EXPECT_NE(r.output.find("EXTENSION_LOG_MAX_ITEMS='5' is out of range (allowed: 1000..10000 items); using 1000"),
            std::string::npos)
      << r.output;
  expect_every_line_exactly_once(r, 2 * 5);
}

TEST(Extension, AnUnknownDestinationFailsInitWithConfigInvalid) {
  RunOptions o;
  o.env["EXTENSION_LOG_DESTINATIONS"] = "file,kafka";
  const auto r = run(o);
  EXPECT_EQ(r.emulator_exit, 2) << r.output;
  const auto& errors = r.report.at("initErrors").as_array();
  ASSERT_EQ(errors.size(), 1u) << r.output;
  EXPECT_EQ(errors[0].at("errorType"), "Extension.ConfigInvalid");
  EXPECT_NE(json::serialize(errors[0].at("body")).find("EXTENSION_LOG_DESTINATIONS='file,kafka'"), std::string::npos)
      << json::serialize(errors[0]);
  EXPECT_NE(r.extension().at("exitCode"), 0);
}

// A password in a destination URL (the first or a later URL of a list, one holding '@', no scheme, the S3
// endpoint, Logstash's tcp://) used to be quoted raw in the init error, which goes to CloudWatch and to Lambda's
// init error. It must appear in no output, report or file; the error names the variable.
TEST(Extension, APasswordInADestinationUrlIsNeverPrinted) {
  const std::string es = "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", s3 = "EXTENSION_LOG_DESTINATION_S3_ENDPOINT",
                    ls = "EXTENSION_LOG_DESTINATION_LOGSTASH_URL";
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"elasticsearch", es, "https://elastic:S3CRET-MARKER@es.example:9200"},
      {"elasticsearch", es, "https://es1.example:9200,https://elastic:S3CRET-MARKER@es2.example:9200"},
      {"elasticsearch", es, "https://elastic:S3CRET@-MARKER@es.example:9200"},
      {"elasticsearch", es, "elastic:S3CRET-MARKER@es.example:9200"},
      {"elasticsearch", es, "https://elastic:S3CRET-MARKER@es.example:99999"},
      {"elasticsearch", es, "ftp://elastic:S3CRET-MARKER@es.example"},
      {"s3", s3, "https://key:S3CRET-MARKER@s3.example"},
      {"logstash", ls, "tcp://user:S3CRET-MARKER@ls.example:5000"},
      {"logstash", ls, "TLS://user:S3CRET-MARKER@ls.example:5000"},
      {"logstash", ls, "https://user:S3CRET-MARKER@ls.example:8080"},
  };
  for (const auto& [destination, variable, value] : cases) {
    SCOPED_TRACE(value);
    RunOptions o;
    o.file_destination = false;
    o.invocations = 1;
    o.env["EXTENSION_LOG_DESTINATIONS"] = destination;
    o.env["EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME"] = "bucket";
    o.env["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLE";
    o.env["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    o.env[variable] = value;
    const auto r = run(o);
    EXPECT_EQ(r.emulator_exit, 2) << r.output;
    EXPECT_EQ(r.output.find("MARKER"), std::string::npos) << r.output;
    EXPECT_EQ(json::serialize(r.report).find("MARKER"), std::string::npos);
    for (const auto& entry : std::filesystem::recursive_directory_iterator(r.dir)) {
      if (entry.is_symlink() || !entry.is_regular_file()) continue;  // not the extension's binary
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_EQ(content.find("MARKER"), std::string::npos) << entry.path();
    }
    const auto& errors = r.report.at("initErrors").as_array();
    ASSERT_EQ(errors.size(), 1u) << r.output;
    EXPECT_NE(json::serialize(errors[0].at("body")).find(variable), std::string::npos) << json::serialize(errors[0]);
  }
}

// The listener has no authentication; it used to listen on every interface, so that under an emulator, RIE or
// Docker anyone on the network could inject records. It listens where sandbox.localdomain points, else (as on
// this machine, where that name does not resolve) on loopback only.
TEST(Extension, TheListenerCannotBeReachedFromTheNetwork) {
  std::string external;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (auto* i = list; i; i = i->ifa_next)
      if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !(i->ifa_flags & IFF_LOOPBACK)) {
        char text[INET_ADDRSTRLEN];
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
        external = text;
        break;
      }
    ::freeifaddrs(list);
  }
  if (external.empty()) GTEST_SKIP() << "no non-loopback IPv4 address on this machine";
  int port = 0;
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    ::close(fd);
  }
  const auto probe = std::filesystem::temp_directory_path() / ("elk-probe-" + std::to_string(::getpid()));
  const std::string script =
      "import socket\n"
      "def reach(host):\n"
      "    s = socket.socket(); s.settimeout(2)\n"
      "    try:\n"
      "        s.connect((host, " +
      std::to_string(port) +
      ")); return 'reachable'\n"
      "    except OSError:\n"
      "        return 'unreachable'\n"
      "open('" +
      probe.string() + "', 'w').write(reach('" + external + "') + ' ' + reach('127.0.0.1'))\n";
  std::ofstream(probe.string() + ".py") << script;
  RunOptions o;
  o.invocations = 2;
  o.env["EXTENSION_LOG_LISTENER_PORT"] = std::to_string(port);
  o.extra_args = {"--before-invocation", "2=/usr/bin/python3 " + probe.string() + ".py"};
  const auto r = run(o);
  expect_clean_exit_before_deadline(r);
  std::ifstream in(probe);
  std::string from_network, from_loopback;
  in >> from_network >> from_loopback;
  std::filesystem::remove(probe);
  std::filesystem::remove(probe.string() + ".py");
  EXPECT_EQ(from_network, "unreachable") << external << ":" << port;
  EXPECT_EQ(from_loopback, "reachable");
}

TEST(Extension, AMissingRequiredDestinationSettingFailsInitNamingIt) {
  RunOptions o;
  o.file_destination = false;
  o.env["EXTENSION_LOG_DESTINATIONS"] = "file";
  const auto r = run(o);
  EXPECT_EQ(r.emulator_exit, 2) << r.output;
  const auto& errors = r.report.at("initErrors").as_array();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(json::serialize(errors[0].at("body")).find("EXTENSION_LOG_DESTINATION_FILE_DIRECTORY is required"),
            std::string::npos);
}

TEST(Extension, DocumentsCarryTheEssentialFields) {
  RunOptions o;
  o.invocations = 2;
  const auto r = run(o);
  ASSERT_FALSE(r.documents.empty());
  for (const auto& d : r.documents) {
    EXPECT_TRUE(d.at("@timestamp").is_string());
    EXPECT_TRUE(d.at("message").is_string());
    EXPECT_EQ(d.at("faas").at("name"), "demo-function");
    EXPECT_EQ(d.at("cloud").at("provider"), "aws");
  }
}

// The static release binary (make build), when the test command built it.
// Its stderr a pipe nobody reads any more: the log line is lost, the process is not (no SIGPIPE).
TEST(Extension, AClosedStderrPipeDoesNotKillIt) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  std::string bin = ELK_EXTENSION_BIN;
  char* argv[] = {bin.data(), nullptr};
  char* envp[] = {nullptr};  // no AWS_LAMBDA_RUNTIME_API: it logs an error and exits 1
  pid_t pid = -1;
  ASSERT_EQ(::posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv, envp), 0);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_FALSE(WIFSIGNALED(status)) << "killed by signal " << WTERMSIG(status);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

TEST(ReleaseBinary, IsFullyStaticAndRunsUnderTheEmulator) {
  const char* bin = std::getenv("ELK_RELEASE_BIN");
  if (bin == nullptr || !std::filesystem::exists(bin)) GTEST_SKIP() << "ELK_RELEASE_BIN not built";
  // An ELF without a PT_INTERP program header needs no dynamic loader.
  std::ifstream in(bin, std::ios::binary);
  std::vector<char> elf((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GT(elf.size(), 64u);
  ASSERT_EQ(std::string(elf.data(), 4),
            "\x7f"
            "ELF");
  std::uint64_t phoff;
  std::uint16_t phentsize, phnum;
  std::memcpy(&phoff, &elf[0x20], 8);
  std::memcpy(&phentsize, &elf[0x36], 2);
  std::memcpy(&phnum, &elf[0x38], 2);
  for (std::uint16_t i = 0; i < phnum; ++i) {
    std::uint32_t type;
    std::memcpy(&type, &elf[phoff + i * phentsize], 4);
    EXPECT_NE(type, 3u) << "PT_INTERP: the release binary is dynamically linked";
  }
  RunOptions o;
  o.extension_bin = bin;
  o.invocations = 3;
  const auto r = run(o);
  expect_clean_exit_before_deadline(r);
  expect_every_line_exactly_once(r, 3 * 5);
}

}  // namespace
}  // namespace elk::itest

namespace elk::itest {
namespace {

// Parsing and enrichment, end to end: what the issue calls done.
void expect_enriched_lines_and_one_report_per_invocation(const RunResult& r, int invocations) {
  int lines = 0;
  for (const auto& d : r.documents) {
    if (d.at("event").at("action") != "function") continue;
    const std::string message(d.at("message").as_string());
    if (token_of(message).empty()) continue;  // the init-phase line belongs to no invocation
    ++lines;
    EXPECT_TRUE(d.at("faas").as_object().contains("execution")) << message;
    ASSERT_TRUE(d.contains("log")) << message;
    EXPECT_FALSE(d.at("log").at("level").as_string().empty()) << message;
    // Clean: no runtime prefix (time, request id, level) before the text the function logged.
    EXPECT_EQ(message.find('\t'), std::string::npos) << message;
    EXPECT_FALSE(message.starts_with("[")) << message;
    EXPECT_FALSE(message.starts_with("20")) << message;
  }
  EXPECT_GT(lines, 0);
  std::map<std::string, int> reports;
  int cold = 0;
  for (const auto& d : r.documents) {
    if (d.at("event").at("action") != "platform.report") continue;
    ++reports[std::string(d.at("faas").at("execution").as_string())];
    const auto& l = d.at("aws").at("lambda").as_object();
    for (const char* k : {"duration_ms", "billed_duration_ms", "memory_size_mb", "max_memory_used_mb"})
      EXPECT_TRUE(l.contains(k)) << k;
    EXPECT_TRUE(d.at("event").at("duration").is_int64());
    if (d.at("faas").at("coldstart").as_bool()) {
      ++cold;
      EXPECT_TRUE(l.contains("init_duration_ms"));
    }
  }
  EXPECT_EQ(static_cast<int>(reports.size()), invocations);
  for (const auto& [id, n] : reports) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(cold, 1);
}

TEST(Enrichment, EveryTextLineKnowsItsRequestLevelAndCleanMessage) {
  RunOptions o;
  o.invocations = 4;
  o.lines = 6;
  const auto r = run(o);
  expect_clean_exit_before_deadline(r);
  expect_enriched_lines_and_one_report_per_invocation(r, 4);
}

TEST(Enrichment, TheSameWithTheJsonLogFormat) {
  RunOptions o;
  o.invocations = 4;
  o.lines = 6;
  o.log_format = "json";
  const auto r = run(o);
  expect_clean_exit_before_deadline(r);
  expect_enriched_lines_and_one_report_per_invocation(r, 4);
}

TEST(Enrichment, ExcludeAndRedactApplyUnderTheEmulator) {
  RunOptions o;
  o.invocations = 2;
  o.env["EXTENSION_LOG_EXCLUDE"] = "line=1$";
  o.env["EXTENSION_LOG_REDACT"] = "attempt \\d+";
  const auto r = run(o);
  expect_clean_exit_before_deadline(r);
  for (const auto& [t, n] : r.arrived_tokens()) EXPECT_FALSE(t.ends_with("line=1")) << t;
  bool redacted = false;
  for (const auto& d : r.documents)
    redacted |= std::string(d.at("message").as_string()).find("[REDACTED]") != std::string::npos;
  EXPECT_TRUE(redacted);
  EXPECT_NE(r.output.find("filtered out"), std::string::npos) << r.output;
}

// What crashed the extension with std::regex (SIGSEGV on a 50 KB line with a greedy pattern, seconds of CPU on
// a 30 KB token): 60 KB lines, a greedy exclude that keeps them all, a redaction that eats the whole pad.
TEST(Enrichment, GreedyPatternsOnLongLinesNeitherCrashNorLoseLines) {
  RunOptions o;
  o.invocations = 2;
  o.lines = 3;
  o.env["EXTENSION_LOG_EXCLUDE"] = ".*password.*";
  o.env["EXTENSION_LOG_REDACT"] = "a[b-z][a-z]+";  // the emulator pads with " abcdefgh..."
  o.extra_args = {"--line-bytes", "60000"};
  const auto r = run(o);
  expect_clean_exit_before_deadline(r);
  expect_every_line_exactly_once(r, 2 * 3);
  for (const auto& d : r.documents) {
    if (d.at("event").at("action") != "function" || token_of(d.at("message").as_string()).empty()) continue;
    const std::string m(d.at("message").as_string());
    EXPECT_NE(m.find("[REDACTED]"), std::string::npos) << m.substr(0, 200);
    EXPECT_LT(m.size(), 1000u);
  }
}

// A record that strict JSON readers refuse (an invalid UTF-8 byte, a lone surrogate escape, in the JSON format
// a field nested 40 deep) used to cost the whole delivery it came in, answered 200 and never resent. Now every
// line arrives once, the bad one repaired.
TEST(Enrichment, ARecordBrokenForStrictJsonReadersCostsNoLine) {
  for (const char* format : {"text", "json"}) {
    SCOPED_TRACE(format);
    RunOptions o;
    o.invocations = 3;
    o.lines = 4;
    o.log_format = format;
    o.runtime = "node";  // line 3 is an object in the JSON format
    o.extra_args = {"--damaged-lines", "on"};
    const auto r = run(o);
    expect_clean_exit_before_deadline(r);
    expect_every_line_exactly_once(r, 3 * 4);
    std::size_t damaged = 0;
    for (const auto& d : r.documents) {
      const auto* message = d.if_contains("message");
      if (!message || !message->is_string()) continue;
      const std::string m(message->get_string());
      if (m.find("bad byte") == std::string::npos) continue;
      ++damaged;
      EXPECT_NE(m.find("bad byte \xEF\xBF\xBD cut emoji \xEF\xBF\xBD"), std::string::npos) << m;
      if (std::string_view(format) == "json") {
        EXPECT_NE(json::serialize(d).find("bottom"), std::string::npos) << json::serialize(d);
      }
    }
    EXPECT_EQ(damaged, 3u);
    EXPECT_NE(r.output.find("3 repaired"), std::string::npos) << r.output;
  }
}

TEST(Enrichment, APatternRE2CannotRunInLinearTimeFailsInitNamingTheVariable) {
  RunOptions o;
  o.invocations = 1;
  o.env["EXTENSION_LOG_REDACT"] = "(secret)\\1";
  const auto r = run(o);
  EXPECT_NE(r.output.find("EXTENSION_LOG_REDACT='(secret)\\1' is not a valid regular expression (RE2 syntax)"),
            std::string::npos)
      << r.output;
}

TEST(Enrichment, ABadRegularExpressionFailsInitNamingTheVariable) {
  RunOptions o;
  o.env["EXTENSION_LOG_INCLUDE"] = "([unclosed";
  const auto r = run(o);
  EXPECT_EQ(r.emulator_exit, 2) << r.output;
  const auto& errors = r.report.at("initErrors").as_array();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(json::serialize(errors[0].at("body"))
                .find("EXTENSION_LOG_INCLUDE='([unclosed' is not a valid regular expression"),
            std::string::npos)
      << json::serialize(errors[0]);
}

}  // namespace
}  // namespace elk::itest
