#include "destinations/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>

#include "../test_util.h"

namespace elk::destinations {
namespace {

namespace fs = std::filesystem;

struct FileDestinationTest : ::testing::Test {
  test::TempDir dir;
  pipeline::FunctionContext function{"my-fn", "$LATEST", "us-east-1", ""};
  Logger log{nullptr};
  boost::asio::io_context io;

  Result<std::unique_ptr<Destination>> make(const fs::path& directory, bool dead_letter = false) {
    config::Config cfg;
    cfg.set("EXTENSION_LOG_DESTINATION_FILE_DIRECTORY", directory.string());
    return file_destination().make(
        Context{cfg, function, log, io.get_executor(), config::process_environment(), dead_letter});
  }
  // Documents numbered as the batcher numbers them: one origin, sequences going up.
  std::uint64_t next_sequence = 1;
  buffer::Batch batch(std::initializer_list<std::string> docs) {
    buffer::Batch b;
    for (const auto& d : docs) {
      b.documents.push_back({d, EpochMs{0}});
      b.documents.back().origin = 0xabc;
      b.documents.back().sequence = next_sequence++;
      b.bytes += d.size();
    }
    return b;
  }
  std::vector<fs::path> files() {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir.path)) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_F(FileDestinationTest, WritesOneNdjsonFilePerFlush) {
  auto dest = make(dir.path);
  ASSERT_TRUE(dest) << dest.error().message;
  auto r = test::run_sync(io, (*dest)->send(batch({R"({"a":1})", R"({"b":2})"}), SteadyTime::max()));
  EXPECT_EQ(r.kind, SendResult::Kind::ok);
  const auto f = files();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(test::read_file(f[0]), "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_TRUE(f[0].filename().string().starts_with("my-fn-")) << f[0];
  EXPECT_TRUE(f[0].filename().string().ends_with(".ndjson")) << f[0];
}

TEST_F(FileDestinationTest, TwoFlushesInOneMillisecondNeverCollide) {
  auto dest = make(dir.path);
  ASSERT_TRUE(dest);
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(test::run_sync(io, (*dest)->send(batch({"{}"}), SteadyTime::max())).kind, SendResult::Kind::ok);
  std::set<std::string> names;
  for (const auto& f : files()) names.insert(f.filename().string());
  EXPECT_EQ(names.size(), 50u);
}

// A batch written again (a retry after an unknown outcome, a replay from the spill by the next process) replaces
// its file: named after its first document, as S3's objects are, it is never doubled.
TEST_F(FileDestinationTest, TheSameBatchWrittenTwiceIsOneFile) {
  auto dest = make(dir.path);
  ASSERT_TRUE(dest);
  const auto b = batch({R"({"a":1})", R"({"b":2})"});
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(test::run_sync(io, (*dest)->send(b, SteadyTime::max())).kind, SendResult::Kind::ok);
  ASSERT_EQ(files().size(), 1u);
  EXPECT_EQ(test::read_file(files()[0]), "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_NE(files()[0].filename().string().find("0000000000000abc-0000000001"), std::string::npos) << files()[0];
}

// A dead-letter file destination may share the directory of a regular one (EXTENSION_LOG_DESTINATIONS=
// elasticsearch,file with the dead letter to file): its batch of rejects, starting with the same document as the
// regular batch, must not replace the regular file.
TEST_F(FileDestinationTest, ADeadLetterInstanceNeverReplacesARegularFile) {
  auto regular = make(dir.path);
  auto rejects = make(dir.path, true);
  ASSERT_TRUE(regular && rejects);
  auto b = batch({R"({"a":1})", R"({"b":2})"});
  ASSERT_EQ(test::run_sync(io, (*regular)->send(b, SteadyTime::max())).kind, SendResult::Kind::ok);
  b.documents.pop_back();
  ASSERT_EQ(test::run_sync(io, (*rejects)->send(b, SteadyTime::max())).kind, SendResult::Kind::ok);
  ASSERT_EQ(files().size(), 2u);
  std::size_t rejected = 0;
  for (const auto& f : files()) rejected += f.filename().string().ends_with("-rejected.ndjson");
  EXPECT_EQ(rejected, 1u);
}

TEST_F(FileDestinationTest, LeavesNoTemporaryFilesBehind) {
  auto dest = make(dir.path);
  ASSERT_TRUE(dest);
  (void)test::run_sync(io, (*dest)->send(batch({"{}"}), SteadyTime::max()));
  for (const auto& f : files()) EXPECT_FALSE(f.filename().string().starts_with(".")) << f;
}

// A kill inside a write left ".<name>.tmp" in the user's directory for good. Ours, a minute old, go at start;
// a fresh one (another environment writing now) and other files stay.
TEST_F(FileDestinationTest, RemovesItsOwnStaleTemporariesAtStart) {
  const auto stale = dir.path / ".my-fn-2024-05-02T101530.520Z-env0-000001.ndjson.tmp";
  const auto fresh = dir.path / ".my-fn-2024-05-02T101531.520Z-env9-000001.ndjson.tmp";
  const auto other = dir.path / ".other-fn-2024-05-02T101530.520Z-env0-000001.ndjson.tmp";
  const auto users = dir.path / "notes.tmp";
  for (const auto& p : {stale, fresh, other, users}) std::ofstream(p) << "{}\n";
  const auto old = fs::file_time_type::clock::now() - std::chrono::minutes(5);
  for (const auto& p : {stale, other, users}) fs::last_write_time(p, old);
  ASSERT_TRUE(make(dir.path));
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_TRUE(fs::exists(users));
}

TEST_F(FileDestinationTest, CreatesAMissingDirectory) {
  const auto nested = dir.path / "a" / "b";
  auto dest = make(nested);
  ASSERT_TRUE(dest) << dest.error().message;
  EXPECT_TRUE(fs::is_directory(nested));
}

TEST_F(FileDestinationTest, ADirectoryThatCannotBeUsedIsAnErrorNamingTheVariable) {
  const auto file = dir.path / "plain-file";
  { std::ofstream(file) << "x"; }
  auto dest = make(file / "sub");
  ASSERT_FALSE(dest);
  EXPECT_NE(dest.error().message.find("EXTENSION_LOG_DESTINATION_FILE_DIRECTORY='"), std::string::npos)
      << dest.error().message;
}

TEST_F(FileDestinationTest, AFailedWriteIsRetryableAndLosesNothing) {
  if (::geteuid() == 0) {
    // root writes anywhere: make the directory vanish instead.
    auto dest = make(dir.path / "gone");
    ASSERT_TRUE(dest);
    fs::remove_all(dir.path / "gone");
    auto r = test::run_sync(io, (*dest)->send(batch({"{}"}), SteadyTime::max()));
    EXPECT_EQ(r.kind, SendResult::Kind::retryable);
    EXPECT_NE(r.message.find("cannot create"), std::string::npos) << r.message;
    return;
  }
  auto dest = make(dir.path);
  ASSERT_TRUE(dest);
  ::chmod(dir.path.c_str(), 0500);
  auto r = test::run_sync(io, (*dest)->send(batch({"{}"}), SteadyTime::max()));
  ::chmod(dir.path.c_str(), 0700);
  EXPECT_EQ(r.kind, SendResult::Kind::retryable);
}

}  // namespace
}  // namespace elk::destinations
