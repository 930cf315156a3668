// The emulator's options for fault tests, each driving the real extension with the file destination.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fakes/elastic.h"
#include "harness.h"

namespace elk::itest {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool mentions(const json::array& failures, std::string_view text) {
  for (const auto& f : failures)
    if (f.as_string().find(text) != json::string::npos) return true;
  return false;
}

TEST(Emulator, LineBytesPadsEveryInvocationLineAfterItsToken) {
  RunOptions o;
  o.invocations = 2;
  o.lines = 6;
  o.extra_args = {"--line-bytes", "3000"};
  const auto r = run(o);
  ASSERT_EQ(r.emulator_exit, 0) << r.output;
  // As the runtime wrote them (node, python and print lines, each with its newline): 3000 bytes.
  std::size_t sent = 0;
  for (const auto& e : r.report.at("events").as_array()) {
    const auto& event = e.as_object();
    if (event.at("type") != "function") continue;
    const auto& line = event.at("record").as_string();
    if (token_of(line).empty()) continue;  // the init line is not an invocation's
    EXPECT_EQ(line.size(), 3000u) << std::string_view(line).substr(0, 120);
    ++sent;
  }
  EXPECT_EQ(sent, 2u * 6u);
  // As shipped: the message is the line without the runtime's prefix, its token whole and first.
  std::map<std::string, int> shipped;
  for (const auto& d : r.documents) {
    if (d.at("event").at("action") != "function") continue;
    const std::string message(d.at("message").as_string());
    const auto token = token_of(message);
    if (token.empty()) continue;
    ++shipped[token];
    EXPECT_GT(message.size(), 2900u) << token;
    EXPECT_LT(message.size(), 3000u) << token;
    EXPECT_EQ(message.find("inv="), message.find(token)) << token;
  }
  EXPECT_EQ(shipped.size(), 2u * 6u);
  for (const auto& [token, n] : shipped) EXPECT_EQ(n, 1) << token;
}

TEST(Emulator, BeforeInvocationRunsEachCommandBetweenThePreviousInvocationAndItsOwn) {
  const fs::path log = fs::temp_directory_path() / ("elk-itest-before-" + std::to_string(::getpid()) + ".txt");
  fs::remove(log);
  RunOptions o;
  o.invocations = 4;
  o.env["EXTENSION_LOG_FLUSH"] = "end";  // each invocation's lines leave within it: what this test counts
  // Each command writes "N:K", K the number of invocations whose lines the extension had shipped by then.
  // Given out of order: each runs before its own invocation.
  for (const int n : {3, 1, 4, 2}) {
    o.extra_args.push_back("--before-invocation");
    o.extra_args.push_back(std::to_string(n) + "=echo " + std::to_string(n) +
                           ":$(cat \"$EXTENSION_LOG_DESTINATION_FILE_DIRECTORY\"/* 2>/dev/null | "
                           "grep -o 'inv=[0-9]*' | sort -u | wc -l) >> '" +
                           log.string() + "'");
  }
  const auto r = run(o);
  EXPECT_EQ(r.emulator_exit, 0) << r.output;
  EXPECT_EQ(read_file(log), "1:0\n2:1\n3:2\n4:3\n") << r.output;
  fs::remove(log);
}

TEST(Emulator, BeforeInvocationCommandsTakeAFakeDestinationDownAndBackUp) {
  const fs::path down = fs::temp_directory_path() / ("elk-itest-down-" + std::to_string(::getpid()));
  fs::remove(down);
  fakes::FakeElasticsearch es;
  es.refuse_connections_while([down] { return fs::exists(down); });
  RunOptions o;
  o.invocations = 4;
  o.file_destination = false;
  o.env = {{"EXTENSION_LOG_DESTINATIONS", "elasticsearch"},
           {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", es.url()},
           {"EXTENSION_LOG_FLUSH", "end"}};  // a flush per invocation, so that one meets the refusal
  o.extra_args = {"--before-invocation", "2=touch '" + down.string() + "'", "--before-invocation",
                  "4=rm '" + down.string() + "'"};
  const auto r = run(o);
  EXPECT_EQ(r.emulator_exit, 0) << r.output;
  // Refused, not accepted by a process that inherited the fake's socket and then left unanswered.
  EXPECT_NE(r.output.find("Connection refused"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("timed out"), std::string::npos) << r.output;
  EXPECT_GT(es.bulk_requests().size(), 0u);
  fs::remove(down);
}

TEST(Emulator, AFailingBeforeInvocationCommandEndsTheRunWithShutdownAndExitCode1) {
  RunOptions o;
  o.invocations = 3;
  o.extra_args = {"--before-invocation", "2=exit 7"};
  const auto r = run(o);
  EXPECT_EQ(r.emulator_exit, 1) << r.output;
  EXPECT_EQ(r.report.at("invocations").as_array().size(), 1u);
  EXPECT_EQ(r.report.at("ok"), false);
  EXPECT_TRUE(mentions(r.report.at("failures").as_array(), "--before-invocation 2 command 'exit 7' exited with code 7"))
      << json::serialize(r.report.at("failures"));
  EXPECT_EQ(r.report.at("shutdownReason"), "spindown");
  EXPECT_EQ(r.extension().at("exitedBeforeDeadline"), true) << json::serialize(r.extension());
}

TEST(Emulator, KillAtInvocationKillsTheExtensionDuringItWithoutShutdown) {
  RunOptions o;
  o.invocations = 5;
  o.extra_args = {"--kill-at-invocation", "3", "--kill-delay-ms", "0"};
  const auto r = run(o);
  EXPECT_EQ(r.emulator_exit, 0) << r.output;
  EXPECT_EQ(r.report.at("ok"), true) << json::serialize(r.report.at("failures"));
  EXPECT_EQ(r.report.at("killedAtInvocation"), 3);
  EXPECT_TRUE(r.report.at("shutdownReason").is_null());
  EXPECT_EQ(r.output.find("SHUTDOWN ("), std::string::npos) << r.output;
  const auto& ext = r.extension();
  EXPECT_EQ(ext.at("killed"), true) << json::serialize(ext);
  EXPECT_EQ(ext.at("plannedKill"), true);
  EXPECT_EQ(ext.at("signal"), SIGKILL);
  EXPECT_EQ(ext.at("exitedEarly"), false);
  EXPECT_TRUE(ext.at("calledNextBeforeKill").is_bool());
  EXPECT_GT(ext.at("hwmKb").to_number<std::int64_t>(), 0);
  const auto& invocations = r.report.at("invocations").as_array();
  ASSERT_EQ(invocations.size(), 3u);
  EXPECT_EQ(invocations[2].at("status"), "killed");
  EXPECT_EQ(r.sent_tokens().size(), 3u * 5u);  // the lines generated up to the kill
  // The emulator reaped it: no such process any more.
  errno = 0;
  EXPECT_EQ(::kill(static_cast<pid_t>(ext.at("pid").as_int64()), 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(Emulator, ReportsEachExtensionsPeakResidentMemory) {
  RunOptions o;
  o.invocations = 2;
  const auto r = run(o);
  ASSERT_EQ(r.emulator_exit, 0) << r.output;
  const auto& ext = r.extension();
  const auto hwm = ext.at("hwmKb").to_number<std::int64_t>();
  EXPECT_GT(hwm, 0) << json::serialize(ext);
  EXPECT_GE(hwm, ext.at("rssKb").to_number<std::int64_t>());
}

}  // namespace
}  // namespace elk::itest
