#include "delivery/spill.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>

#include "../test_util.h"

namespace elk::delivery {
namespace {

buffer::Batch batch(std::initializer_list<std::string> docs, std::uint64_t first_sequence = 1) {
  buffer::Batch b;
  std::uint64_t seq = first_sequence;
  for (const auto& d : docs) {
    pipeline::Document doc{d, EpochMs{1714644930000 + static_cast<std::int64_t>(seq)}, "raw:" + d, seq, 0xabcdef};
    ++seq;
    b.bytes += doc.bytes();
    b.documents.push_back(std::move(doc));
  }
  return b;
}

std::vector<std::string> texts(const buffer::Batch& b) {
  std::vector<std::string> out;
  for (const auto& d : b.documents) out.push_back(d.json);
  return out;
}

std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void write_raw(const std::filesystem::path& p, std::string_view data) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
}

TEST(SpillFormat, RoundTripsEveryField) {
  const auto b = batch({R"({"message":"a"})", "", std::string(70000, 'x')});
  const auto read = decode_spill(encode_spill(b));
  EXPECT_EQ(read.torn_bytes, 0u);
  EXPECT_FALSE(read.bad_header);
  ASSERT_EQ(read.batch.documents.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(read.batch.documents[i].json, b.documents[i].json);
    EXPECT_EQ(read.batch.documents[i].raw, b.documents[i].raw);
    EXPECT_EQ(read.batch.documents[i].sequence, b.documents[i].sequence);
    EXPECT_EQ(read.batch.documents[i].origin, b.documents[i].origin);
    EXPECT_EQ(read.batch.documents[i].timestamp, b.documents[i].timestamp);
  }
  EXPECT_EQ(read.batch.bytes, b.bytes);
}

TEST(SpillFormat, KeepsASourcesIdAndFunction) {
  auto b = batch({"a", "b"});
  b.documents[0].id = "123456789012/us-east-1//aws/lambda/fn/stream/3786";
  b.documents[0].function = "other-fn";
  const auto read = decode_spill(encode_spill(b));
  ASSERT_EQ(read.batch.documents.size(), 2u);
  EXPECT_EQ(read.batch.documents[0].id, b.documents[0].id);
  EXPECT_EQ(read.batch.documents[0].function, "other-fn");
  EXPECT_EQ(read.batch.documents[0].json, "a");
  EXPECT_EQ(read.batch.documents[0].raw, "raw:a");
  EXPECT_EQ(read.batch.documents[1].id, "");
  EXPECT_EQ(read.batch.documents[1].raw, "raw:b");
}

TEST(SpillFormat, ReadsFilesOfTheFirstFormat) {
  // ELKSPIL1: origin | sequence | timestamp | JSON length | JSON | raw, as an earlier version wrote them.
  std::string payload;
  const auto le = [&](std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) payload += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  le(0xabcdef, 8), le(5, 8), le(1714644930005, 8), le(3, 4);
  payload += "abcraw";
  std::string file = "ELKSPIL1";
  const auto crc = static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())));
  for (int i = 0; i < 4; ++i) file += static_cast<char>((payload.size() >> (8 * i)) & 0xff);
  for (int i = 0; i < 4; ++i) file += static_cast<char>((crc >> (8 * i)) & 0xff);
  file += payload;
  const auto read = decode_spill(file);
  EXPECT_FALSE(read.bad_header);
  ASSERT_EQ(read.batch.documents.size(), 1u);
  EXPECT_EQ(read.batch.documents[0].json, "abc");
  EXPECT_EQ(read.batch.documents[0].raw, "raw");
  EXPECT_EQ(read.batch.documents[0].sequence, 5u);
  EXPECT_EQ(read.batch.documents[0].id, "");
}

TEST(SpillFormat, ATornFileKeepsItsIntactRecordsAtEveryCut) {
  const auto b = batch({"first", "second", "third"});
  const auto whole = encode_spill(b);
  for (std::size_t cut = 0; cut < whole.size(); ++cut) {
    const auto read = decode_spill(std::string_view(whole).substr(0, cut));
    // Only whole records, in order, never a partial one.
    ASSERT_LE(read.batch.documents.size(), 3u) << cut;
    for (std::size_t i = 0; i < read.batch.documents.size(); ++i)
      EXPECT_EQ(read.batch.documents[i].json, b.documents[i].json) << cut;
    // Cut at a record's end, the loss shows in the count only (the file's name has it).
    EXPECT_EQ(read.torn_bytes > 0 || read.bad_header || read.batch.documents.size() < 3, cut < whole.size()) << cut;
  }
}

TEST(SpillFormat, ADamagedRecordIsSkippedAndTheRecordsAfterItAreKept) {
  const auto b = batch({"first", "second", "third"});
  auto data = encode_spill(b);
  data[data.find("second") + 2] ^= 0x20;  // in the second record's payload: its checksum fails
  const auto read = decode_spill(data);
  EXPECT_EQ(texts(read.batch), (std::vector<std::string>{"first", "third"}));
  EXPECT_EQ(read.torn_bytes, 0u);
  EXPECT_EQ(read.skipped_records, 1u);
}

TEST(SpillFormat, ADamagedLastRecordIsSkippedToo) {
  const auto b = batch({"first", "second", "third"});
  auto data = encode_spill(b);
  data[data.size() - 3] ^= 0x20;
  const auto read = decode_spill(data);
  EXPECT_EQ(texts(read.batch), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(read.skipped_records, 1u);
}

TEST(SpillFormat, ADamagedLengthEndsTheFileThere) {
  const auto b = batch({"first", "second", "third"});
  auto data = encode_spill(b);
  const auto second_frame = data.find("second") - 8 - 32;  // its length, 4 bytes, then its checksum
  data[second_frame + 3] = '\x7f';                         // a length far past the end of the file
  const auto read = decode_spill(data);
  EXPECT_EQ(texts(read.batch), (std::vector<std::string>{"first"}));
  EXPECT_GT(read.torn_bytes, 0u);
}

TEST(SpillFormat, SomethingElseIsNotReadAtAll) {
  const auto read = decode_spill("not a spill file at all");
  EXPECT_TRUE(read.bad_header);
  EXPECT_TRUE(read.batch.documents.empty());
}

TEST(SpillStore, AppendsReadsOldestFirstAndRemoves) {
  test::TempDir dir;
  auto spill = Spill::open(dir.path / "spill", 1 << 20);
  ASSERT_TRUE(spill);
  ASSERT_TRUE(spill->append("s3", batch({"a", "b"})));
  ASSERT_TRUE(spill->append("s3", batch({"c"})));
  ASSERT_TRUE(spill->append("elasticsearch", batch({"x"})));
  EXPECT_EQ(spill->documents("s3"), 3u);
  EXPECT_EQ(spill->counters("s3").spilled, 3u);
  auto first = spill->front("s3");
  ASSERT_TRUE(first);
  EXPECT_EQ(texts(first->batch), (std::vector<std::string>{"a", "b"}));
  spill->remove("s3", first->id);
  auto second = spill->front("s3");
  ASSERT_TRUE(second);
  EXPECT_EQ(texts(second->batch), std::vector<std::string>{"c"});
  spill->remove("s3", second->id);
  EXPECT_FALSE(spill->front("s3"));
  EXPECT_TRUE(spill->documents("s3") == 0);
  EXPECT_FALSE(spill->documents("elasticsearch") == 0);
  EXPECT_EQ(files_in(dir.path / "spill").size(), 1u);
}

TEST(SpillStore, ANewProcessTakesOverWhatTheLastOneLeft) {
  test::TempDir dir;
  {
    auto spill = Spill::open(dir.path, 1 << 20);
    ASSERT_TRUE(spill);
    ASSERT_TRUE(spill->append("s3", batch({"a"})));
    ASSERT_TRUE(spill->append("s3", batch({"b", "c"})));
  }
  auto again = Spill::open(dir.path, 1 << 20);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->counters("s3").restored, 3u);
  EXPECT_EQ(again->documents("s3"), 3u);
  ASSERT_TRUE(again->append("s3", batch({"d"})));  // after the others, whatever the counter was
  std::vector<std::string> all;
  while (auto e = again->front("s3")) {
    for (auto& t : texts(e->batch)) all.push_back(t);
    again->remove("s3", e->id);
  }
  EXPECT_EQ(all, (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(SpillStore, ATornFileIsReplayedUpToItsTearAndCountedOnce) {
  test::TempDir dir;
  {
    auto spill = Spill::open(dir.path, 1 << 20);
    ASSERT_TRUE(spill->append("s3", batch({"a", "b", "c"})));
  }
  const auto file = files_in(dir.path).at(0);
  const auto whole = test::read_file(file);
  write_raw(file, whole.substr(0, whole.size() - 2));  // the last record torn, as by a kill mid-write
  write_raw(dir.path / "s3" / "0000000000000000-5.spill", "garbage that is no spill file");
  auto spill = Spill::open(dir.path, 1 << 20);
  ASSERT_TRUE(spill);
  auto e = spill->front("s3");
  ASSERT_TRUE(e);
  EXPECT_EQ(texts(e->batch), (std::vector<std::string>{"a", "b"}));
  const auto c = spill->counters("s3");
  EXPECT_EQ(c.torn_files, 2u);
  EXPECT_EQ(c.torn_documents, 5u + 1u);  // the garbage file's name promised 5; the torn one lost 1
  spill->release("s3", e->id);
  auto again = spill->front("s3");  // the intact part was rewritten: no second count
  ASSERT_TRUE(again);
  EXPECT_EQ(spill->counters("s3").torn_files, 2u);
  EXPECT_EQ(spill->documents("s3"), 2u);
}

TEST(SpillStore, WhenFullTheLaneHoldingTheMostGivesUpItsOldestCounted) {
  test::TempDir dir;
  const auto one = encode_spill(batch({std::string(1000, 'a')})).size();
  auto spill = Spill::open(dir.path, 4 * one);
  ASSERT_TRUE(spill);
  // "es" is down and fills the spill; "file" put one batch aside.
  ASSERT_TRUE(spill->append("es", batch({std::string(1000, 'a')})));
  ASSERT_TRUE(spill->append("file", batch({std::string(1000, 'b')})));
  ASSERT_TRUE(spill->append("es", batch({std::string(1000, 'c')})));
  ASSERT_TRUE(spill->append("es", batch({std::string(1000, 'd')})));
  ASSERT_TRUE(spill->append("es", batch({std::string(1000, 'e')})));  // "a" goes, not the older "b"
  EXPECT_EQ(spill->counters("es").dropped_full, 1u);
  EXPECT_EQ(spill->counters("file").dropped_full, 0u);
  EXPECT_EQ(spill->documents("file"), 1u);
  EXPECT_LE(spill->bytes(), 4 * one);
  // A batch being sent is never the one deleted.
  auto busy = spill->front("es");
  ASSERT_TRUE(busy);
  EXPECT_EQ(texts(busy->batch), std::vector<std::string>{std::string(1000, 'c')});
  ASSERT_TRUE(spill->append("file", batch({std::string(1000, 'f')})));
  EXPECT_EQ(spill->counters("es").dropped_full, 2u);  // "d", the oldest that is not being sent
  auto still = spill->front("es");
  ASSERT_TRUE(still);
  EXPECT_EQ(still->id, busy->id);
  // Larger than the whole spill: refused, nothing deleted for it.
  EXPECT_FALSE(spill->append("es", batch({std::string(5 * one, 'z')})));
  EXPECT_EQ(spill->counters("es").dropped_full, 2u);
}

TEST(SpillStore, AnUnusableDirectoryIsAnError) {
  test::TempDir dir;
  write_raw(dir.path / "file", "x");
  const auto spill = Spill::open(dir.path / "file" / "below", 1 << 20);
  ASSERT_FALSE(spill);
  EXPECT_NE(spill.error().message.find("spill directory"), std::string::npos);
}

}  // namespace
}  // namespace elk::delivery
