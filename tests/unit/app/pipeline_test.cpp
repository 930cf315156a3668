// The pipeline as a source sees it: records offered with or without a SourceContext, flushed to a real
// destination (file), read back.
#include "app/pipeline.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>

#include "../test_util.h"
#include "destinations/registry.h"

namespace elk::app {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct PipelineTest : ::testing::Test {
  test::TempDir dir;
  boost::asio::io_context io;
  Logger log{nullptr};
  std::unique_ptr<Pipeline> pipeline;

  void SetUp() override {
    const std::map<std::string, std::string, std::less<>> env{
        {"EXTENSION_LOG_DESTINATIONS", "file"},
        {"EXTENSION_LOG_DESTINATION_FILE_DIRECTORY", dir.path.string()},
        {"EXTENSION_LOG_SPILL_DIRECTORY", "none"}};
    const Getenv getenv = [env](std::string_view n) -> std::optional<std::string> {
      const auto it = env.find(n);
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto loaded = config::load(destinations::all_settings(), getenv, destinations::destination_aliases());
    ASSERT_TRUE(loaded.errors.empty()) << loaded.errors.front();
    auto made = Pipeline::make(loaded.config, {"own-fn", "$LATEST", "us-east-1", "111111111111", "on-demand"}, getenv,
                               log, io.get_executor(), PipelineOptions{1s, 7});
    ASSERT_TRUE(made) << made.error().message;
    pipeline = std::move(*made);
  }

  static pipeline::Record line(std::string_view text, std::string_view id = {}) {
    pipeline::Record r("function", "2024-05-02T10:15:30.520Z", EpochMs{1714644930520}, json::value(text));
    r.id = id;
    return r;
  }
  static pipeline::SourceContext source(std::string function, std::string stream) {
    return {{std::move(function), "3", "eu-west-1", "222222222222", ""}, std::move(stream)};
  }

  // Every document written, in order, with the name of the file it is in.
  std::vector<std::pair<std::string, json::object>> flush_and_read() {
    const auto outcome = test::run_sync(io, pipeline->flush(std::chrono::steady_clock::now() + 5s));
    EXPECT_TRUE(outcome.all_delivered());
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir.path)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<std::pair<std::string, json::object>> out;
    for (const auto& f : files) {
      std::ifstream in(f);
      for (std::string l; std::getline(in, l);) out.emplace_back(f.filename().string(), json::parse(l).as_object());
    }
    return out;
  }
  static std::string text(const json::object& d, std::initializer_list<std::string_view> path) {
    const json::value* v = nullptr;
    const json::object* o = &d;
    for (const auto key : path) {
      v = o ? o->if_contains(key) : nullptr;
      if (!v) return "";
      o = v->if_object();
    }
    return v->is_string() ? std::string(v->as_string()) : json::serialize(*v);
  }
};

TEST_F(PipelineTest, EachStreamKeepsItsOwnInvocationAndEachSourceItsOwnFunction) {
  const auto a = source("fn-a", "/aws/lambda/fn-a\n2024/05/02/[3]aaaa");
  const auto b = source("fn-b", "/aws/lambda/fn-b\n2024/05/02/[3]bbbb");
  const auto now = std::chrono::steady_clock::now();
  pipeline->offer(std::vector{line("START RequestId: 11111111-1111-4111-8111-111111111111 Version: 3")}, a, now);
  pipeline->offer(std::vector{line("START RequestId: 22222222-2222-4222-8222-222222222222 Version: 3")}, b, now);
  pipeline->offer(std::vector{line("a's line")}, a, now);  // b's START came in between
  pipeline->offer(std::vector{line("b's line")}, b, now);
  pipeline->offer(std::vector{line("the extension's own line")}, now);
  EXPECT_EQ(pipeline->streams(), 2u);

  const auto docs = flush_and_read();
  ASSERT_EQ(docs.size(), 5u);
  std::map<std::string, json::object> by_message;
  for (const auto& [file, d] : docs) by_message[text(d, {"message"})] = d;
  const auto& da = by_message.at("a's line");
  EXPECT_EQ(text(da, {"faas", "execution"}), "11111111-1111-4111-8111-111111111111");
  EXPECT_EQ(text(da, {"faas", "name"}), "fn-a");
  EXPECT_EQ(text(da, {"cloud", "account", "id"}), "222222222222");
  EXPECT_EQ(text(da, {"cloud", "region"}), "eu-west-1");
  const auto& db = by_message.at("b's line");
  EXPECT_EQ(text(db, {"faas", "execution"}), "22222222-2222-4222-8222-222222222222");
  EXPECT_EQ(text(db, {"faas", "name"}), "fn-b");
  const auto& own = by_message.at("the extension's own line");
  EXPECT_EQ(text(own, {"faas", "name"}), "own-fn");
  EXPECT_EQ(text(own, {"faas", "execution"}), "");  // no START of its own
  // One batch, named after its first document's function: another source's.
  EXPECT_TRUE(docs.front().first.starts_with("fn-a-")) << docs.front().first;
}

TEST_F(PipelineTest, OwnRecordsNameTheProcesssFunction) {
  pipeline->offer(
      std::vector{line("START RequestId: 11111111-1111-4111-8111-111111111111 Version: $LATEST"), line("hello")},
      std::chrono::steady_clock::now());
  const auto docs = flush_and_read();
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_TRUE(docs[0].first.starts_with("own-fn-")) << docs[0].first;
  EXPECT_EQ(text(docs[1].second, {"faas", "execution"}), "11111111-1111-4111-8111-111111111111");
  EXPECT_EQ(pipeline->streams(), 0u);
}

TEST_F(PipelineTest, AnEmptyStreamIsTheProcesssOwn) {
  pipeline->offer(std::vector{line("x")}, pipeline::SourceContext{}, std::chrono::steady_clock::now());
  EXPECT_EQ(pipeline->streams(), 0u);
  const auto docs = flush_and_read();
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(text(docs[0].second, {"faas", "name"}), "own-fn");
}

TEST_F(PipelineTest, TheLeastRecentlyOfferedStreamGivesWayPastTheLimit) {
  const auto now = std::chrono::steady_clock::now();
  const auto first = source("fn", "s-0");
  pipeline->offer(std::vector{line("START RequestId: 11111111-1111-4111-8111-111111111111 Version: 3")}, first, now);
  for (std::size_t i = 1; i <= Pipeline::max_streams; ++i)
    pipeline->offer({}, source("fn", "s-" + std::to_string(i)), now);
  EXPECT_EQ(pipeline->streams(), Pipeline::max_streams);
  // s-0 went (the least recent): its invocation state is forgotten, its records still arrive.
  pipeline->offer(std::vector{line("late line")}, first, now);
  EXPECT_EQ(pipeline->streams(), Pipeline::max_streams);
  const auto docs = flush_and_read();
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(text(docs[1].second, {"message"}), "late line");
  EXPECT_EQ(text(docs[1].second, {"faas", "execution"}), "");
}

}  // namespace
}  // namespace elk::app
