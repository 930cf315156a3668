// The spill: batches a destination could not take in time, kept on disk (Lambda's /tmp survives a
// function timeout, a crash and the reset that follows) and replayed first, by this process or the
// next one. One directory per destination lane; one file per batch, named by a counter that orders
// the files of every lane:
//
//   <dir>/<lane>/<counter, 16 digits>-<documents>.spill
//
// A file is a header (8 bytes, "ELKSPIL2") and one record per document:
//
//   u32 payload length | u32 CRC-32 of the payload | payload
//   payload = u64 origin | u64 sequence | i64 timestamp (Unix ms) | u32 JSON length | u16 id length |
//             u16 function length | JSON | id | function | raw record
//
// (little-endian; id and function are Document::id and Document::function, usually empty). Files of the
// first format ("ELKSPIL1": no id or function lengths, nor texts) are still read.
//
// A file cut short by a kill mid-write, or damaged, keeps its intact records: the
// first record that is short or fails its checksum ends the file, and the rest is counted as torn,
// never replayed as garbage. A file leaves the spill only once its batch was delivered (or refused
// for good), so a kill at any moment loses nothing that was spilled; a batch delivered just before a
// kill is sent again by the next process, which deterministic document ids and object keys make
// harmless. When the spill is full, the lane holding the most (a destination that is down) gives up its
// oldest files, counted; a healthy destination's few files are kept.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "buffer/batcher.h"
#include "core/result.h"

namespace elk::delivery {

// Per lane.
struct SpillCounters {
  std::uint64_t restored = 0;        // documents found at open(), left by an earlier process
  std::uint64_t spilled = 0;         // documents written to the spill
  std::uint64_t dropped_full = 0;    // documents of the oldest files, deleted to make room
  std::uint64_t torn_files = 0;      // files with a torn or damaged tail (their intact records are kept)
  std::uint64_t torn_documents = 0;  // documents their names promised that were not intact
};

// The result of reading one spill file.
struct SpillRead {
  buffer::Batch batch;         // the intact records, in order
  std::size_t torn_bytes = 0;  // bytes after the last intact record (0: the file is whole)
  // Damaged records skipped inside the file: their frame (length) was whole but their checksum failed, so
  // the records after them were still read.
  std::size_t skipped_records = 0;
  std::size_t skipped_bytes = 0;
  bool bad_header = false;  // not a spill file at all: nothing in it was read
};

// Encodes a batch as a spill file / decodes one (pure; exposed for tests and the fuzzer).
[[nodiscard]] std::string encode_spill(const buffer::Batch& batch);
[[nodiscard]] SpillRead decode_spill(std::string_view file);

class Spill {
 public:
  // Creates the directory when needed and takes over what an earlier process left there.
  [[nodiscard]] static Result<Spill> open(std::filesystem::path dir, std::uint64_t max_bytes);

  struct Entry {
    std::uint64_t id = 0;  // the file's counter
    buffer::Batch batch;
  };

  // Writes one batch for `lane`, first deleting the oldest files of the lane holding the most while the
  // spill would be over its bound. A batch larger than the whole bound is not written. The error says why
  // nothing was written.
  Status append(const std::string& lane, const buffer::Batch& batch);
  // The oldest batch of `lane`, read back (its intact records; a file with none is removed and the next
  // one read); nullopt when the lane has nothing spilled.
  [[nodiscard]] std::optional<Entry> front(const std::string& lane);
  // Removes a batch once it was delivered or refused for good.
  void remove(const std::string& lane, std::uint64_t id);
  // A batch given by front() that stays for later (not delivered in this flush). Until then, a batch being
  // sent is never deleted to make room.
  void release(const std::string& lane, std::uint64_t id);

  [[nodiscard]] std::uint64_t documents(const std::string& lane) const;  // as the file names say
  [[nodiscard]] std::uint64_t bytes() const { return bytes_; }
  [[nodiscard]] const std::filesystem::path& directory() const { return dir_; }
  [[nodiscard]] SpillCounters counters(const std::string& lane) const;

 private:
  struct File {
    std::uint64_t id;
    std::uint64_t documents;
    std::uint64_t bytes;
    bool busy;  // handed out by front(), not yet removed or released
  };
  Spill(std::filesystem::path dir, std::uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
  [[nodiscard]] std::filesystem::path path_of(const std::string& lane, const File& f) const;
  void make_room(std::uint64_t needed);

  std::filesystem::path dir_;
  std::uint64_t max_bytes_;
  std::uint64_t bytes_ = 0;
  std::uint64_t next_id_ = 1;
  std::map<std::string, std::vector<File>, std::less<>> lanes_;  // each lane's files, oldest first
  std::map<std::string, SpillCounters, std::less<>> counters_;
};

}  // namespace elk::delivery
