// libFuzzer target: arbitrary bytes as a spill file (a torn, damaged or foreign file found in /tmp after a
// crash). No crash (ASan, UBSan); what is read back is exactly the longest intact prefix: encoding the
// documents read gives back the file's bytes up to the tear, so nothing torn is ever replayed as a record.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "check.h"
#include "delivery/spill.h"

using elk::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  const auto read = elk::delivery::decode_spill(file);
  check(read.torn_bytes <= file.size(), "the torn part lies within the file");
  if (read.bad_header) {
    check(read.batch.documents.empty(), "nothing is read from a file that is no spill file");
    return 0;
  }
  const auto again = elk::delivery::encode_spill(read.batch);
  // A file of the first format ("ELKSPIL1") is written back in the current one: 4 more bytes a record (the id
  // and function lengths), the same bytes otherwise.
  const bool first_format = file.starts_with("ELKSPIL1");
  const std::size_t growth = first_format ? 4 * read.batch.documents.size() : 0;
  if (read.skipped_records == 0 && !first_format)
    check(again == file.substr(0, file.size() - read.torn_bytes), "the records read are the file's intact prefix");
  check(again.size() - growth + read.skipped_bytes == file.size() - read.torn_bytes,
        "the records read and the ones skipped make up the part before the tear");
  std::size_t bytes = 0;
  for (const auto& d : read.batch.documents) bytes += d.bytes();
  check(bytes == read.batch.bytes, "the batch's byte count is its documents'");
  return 0;
}
