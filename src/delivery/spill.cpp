#include "delivery/spill.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>

#include "core/file_io.h"

namespace elk::delivery {
namespace {

constexpr std::string_view kMagic = "ELKSPIL2";
constexpr std::string_view kMagicV1 = "ELKSPIL1";  // no id or function
constexpr std::size_t kFixedV1 = 8 + 8 + 8 + 4;    // origin, sequence, timestamp, JSON length
constexpr std::size_t kFixed = kFixedV1 + 2 + 2;   // ... id length, function length
constexpr std::size_t kMaxText = 0xffff;           // longest id or function kept
constexpr std::string_view kSuffix = ".spill";

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

std::uint64_t get_le(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::uint32_t crc_of(std::string_view data) {
  return static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

// "<16 digits>-<documents>.spill" -> (id, documents).
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_name(std::string_view name) {
  if (!name.ends_with(kSuffix) || name.size() < 16 + 1 + 1 + kSuffix.size() || name[16] != '-') return std::nullopt;
  std::uint64_t id = 0, docs = 0;
  const char* b = name.data();
  if (std::from_chars(b, b + 16, id).ptr != b + 16) return std::nullopt;
  const char* e = name.data() + name.size() - kSuffix.size();
  if (std::from_chars(b + 17, e, docs).ptr != e) return std::nullopt;
  return std::pair{id, docs};
}

}  // namespace

std::string encode_spill(const buffer::Batch& batch) {
  std::string out(kMagic);
  out.reserve(kMagic.size() + batch.bytes + batch.documents.size() * (8 + kFixed));
  std::string payload;
  for (const auto& d : batch.documents) {
    payload.clear();
    put_le(payload, d.origin, 8);
    put_le(payload, d.sequence, 8);
    put_le(payload, static_cast<std::uint64_t>(d.timestamp.value), 8);
    // Ids and function names are short (Lambda's names: 64 bytes; CloudWatch ids: 56 digits and a few names).
    const std::string_view id = std::string_view(d.id).substr(0, kMaxText);
    const std::string_view function = std::string_view(d.function).substr(0, kMaxText);
    put_le(payload, d.json.size(), 4);
    put_le(payload, id.size(), 2);
    put_le(payload, function.size(), 2);
    payload += d.json;
    payload += id;
    payload += function;
    payload += d.raw;
    put_le(out, payload.size(), 4);
    put_le(out, crc_of(payload), 4);
    out += payload;
  }
  return out;
}

SpillRead decode_spill(std::string_view file) {
  SpillRead r;
  const bool v1 = file.starts_with(kMagicV1);
  if (!v1 && !file.starts_with(kMagic)) {
    r.bad_header = true;
    r.torn_bytes = file.size();
    return r;
  }
  const std::size_t fixed = v1 ? kFixedV1 : kFixed;
  std::size_t pos = kMagic.size();
  while (pos < file.size()) {
    const auto left = file.size() - pos;
    if (left < 8) break;
    const auto len = get_le(file.data() + pos, 4);
    const auto crc = static_cast<std::uint32_t>(get_le(file.data() + pos + 4, 4));
    if (len < fixed || len > left - 8) break;
    const auto payload = file.substr(pos + 8, len);
    const auto json_len = get_le(payload.data() + 24, 4);
    const auto id_len = v1 ? 0 : get_le(payload.data() + 28, 2);
    const auto function_len = v1 ? 0 : get_le(payload.data() + 30, 2);
    if (crc_of(payload) != crc || json_len + id_len + function_len > len - fixed) {
      // A damaged record in a whole frame: skip it, keep reading. (A damaged length cannot be skipped:
      // the rest is read as torn.)
      ++r.skipped_records;
      r.skipped_bytes += 8 + len;
      pos += 8 + len;
      continue;
    }
    pipeline::Document d;
    d.origin = get_le(payload.data(), 8);
    d.sequence = get_le(payload.data() + 8, 8);
    d.timestamp = EpochMs{static_cast<std::int64_t>(get_le(payload.data() + 16, 8))};
    d.json.assign(payload.substr(fixed, json_len));
    d.id.assign(payload.substr(fixed + json_len, id_len));
    d.function.assign(payload.substr(fixed + json_len + id_len, function_len));
    d.raw.assign(payload.substr(fixed + json_len + id_len + function_len));
    r.batch.bytes += d.bytes();
    r.batch.documents.push_back(std::move(d));
    pos += 8 + len;
  }
  r.torn_bytes = file.size() - pos;
  return r;
}

Result<Spill> Spill::open(std::filesystem::path dir, std::uint64_t max_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail("cannot create the spill directory " + dir.string() + ": " + ec.message());
  Spill spill(std::move(dir), max_bytes);
  for (const auto& lane_dir : std::filesystem::directory_iterator(spill.dir_, ec)) {
    if (!lane_dir.is_directory(ec)) continue;
    const std::string lane = lane_dir.path().filename().string();
    auto& files = spill.lanes_[lane];
    for (const auto& f : std::filesystem::directory_iterator(lane_dir.path(), ec)) {
      const auto parsed = parse_name(f.path().filename().string());
      if (!parsed || !f.is_regular_file(ec)) continue;
      const auto size = f.file_size(ec);
      if (ec) continue;
      files.push_back(File{parsed->first, parsed->second, size, false});
      spill.counters_[lane].restored += parsed->second;
      spill.bytes_ += size;
      spill.next_id_ = std::max(spill.next_id_, parsed->first + 1);
    }
    std::sort(files.begin(), files.end(), [](const File& a, const File& b) { return a.id < b.id; });
  }
  if (ec) return fail("cannot read the spill directory " + spill.dir_.string() + ": " + ec.message());
  return spill;
}

std::filesystem::path Spill::path_of(const std::string& lane, const File& f) const {
  char name[64];
  std::snprintf(name, sizeof name, "%016llu-%llu", static_cast<unsigned long long>(f.id),
                static_cast<unsigned long long>(f.documents));
  return dir_ / lane / (std::string(name) + std::string(kSuffix));
}

void Spill::make_room(std::uint64_t needed) {
  while (bytes_ + needed > max_bytes_) {
    // The destination holding the most gives up its oldest file (not one being sent right now): a destination
    // that is down fills the spill, and must not push out what a healthy one put aside for a moment.
    std::vector<File>* from = nullptr;
    const std::string* lane = nullptr;
    std::uint64_t most = 0;
    for (auto& [name, files] : lanes_) {
      std::uint64_t held = 0;
      bool any_free = false;
      for (const auto& f : files) {
        held += f.bytes;
        any_free |= !f.busy;
      }
      if (any_free && (!from || held > most)) {
        from = &files;
        lane = &name;
        most = held;
      }
    }
    if (!from) return;
    const auto it = std::find_if(from->begin(), from->end(), [](const File& f) { return !f.busy; });
    const File f = *it;
    std::error_code ec;
    std::filesystem::remove(path_of(*lane, f), ec);
    counters_[*lane].dropped_full += f.documents;
    bytes_ -= std::min(bytes_, f.bytes);
    from->erase(it);
  }
}

Status Spill::append(const std::string& lane, const buffer::Batch& batch) {
  if (batch.documents.empty()) return {};
  const std::string data = encode_spill(batch);
  if (data.size() > max_bytes_)
    return fail("a batch of " + std::to_string(data.size()) + " bytes is larger than the whole spill (" +
                std::to_string(max_bytes_) + " bytes)");
  make_room(data.size());
  std::error_code ec;
  std::filesystem::create_directories(dir_ / lane, ec);
  if (ec) return fail("cannot create " + (dir_ / lane).string() + ": " + ec.message());
  const File f{next_id_++, batch.documents.size(), data.size(), false};
  if (auto st = write_file(path_of(lane, f), data, O_EXCL, 0600); !st) return st;
  lanes_[lane].push_back(f);
  bytes_ += f.bytes;
  counters_[lane].spilled += f.documents;
  return {};
}

std::optional<Spill::Entry> Spill::front(const std::string& lane) {
  const auto it = lanes_.find(lane);
  if (it == lanes_.end()) return std::nullopt;
  auto& files = it->second;
  while (!files.empty()) {
    File& f = files.front();
    const auto path = path_of(lane, f);
    const auto text = read_file(path);
    SpillRead read = text ? decode_spill(*text) : SpillRead{};
    // Torn: a tail that is no whole record, or fewer records than the name says (cut at a record's end).
    if (read.torn_bytes > 0 || read.bad_header || read.batch.documents.size() < f.documents) {
      ++counters_[lane].torn_files;
      counters_[lane].torn_documents += f.documents - std::min<std::uint64_t>(f.documents, read.batch.documents.size());
    }
    if (read.batch.documents.empty()) {  // gone, empty or all torn: nothing to replay
      std::error_code ec;
      std::filesystem::remove(path, ec);
      bytes_ -= std::min(bytes_, f.bytes);
      files.erase(files.begin());
      continue;
    }
    if (read.torn_bytes > 0 || read.batch.documents.size() != f.documents) {
      // Keep the intact part only, so that the torn tail is counted once, not at every replay.
      const std::string whole = encode_spill(read.batch);
      std::error_code ec;
      std::filesystem::remove(path, ec);
      bytes_ -= std::min(bytes_, f.bytes);
      f.documents = read.batch.documents.size();
      f.bytes = whole.size();
      if (write_file(path_of(lane, f), whole, O_EXCL, 0600))
        bytes_ += f.bytes;
      else
        f.bytes = 0;
    }
    f.busy = true;
    return Entry{f.id, std::move(read.batch)};
  }
  return std::nullopt;
}

void Spill::release(const std::string& lane, std::uint64_t id) {
  const auto it = lanes_.find(lane);
  if (it == lanes_.end()) return;
  for (auto& f : it->second)
    if (f.id == id) f.busy = false;
}

void Spill::remove(const std::string& lane, std::uint64_t id) {
  const auto it = lanes_.find(lane);
  if (it == lanes_.end()) return;
  auto& files = it->second;
  for (auto f = files.begin(); f != files.end(); ++f)
    if (f->id == id) {
      std::error_code ec;
      std::filesystem::remove(path_of(lane, *f), ec);
      bytes_ -= std::min(bytes_, f->bytes);
      files.erase(f);
      return;
    }
}

std::uint64_t Spill::documents(const std::string& lane) const {
  std::uint64_t n = 0;
  if (const auto it = lanes_.find(lane); it != lanes_.end())
    for (const auto& f : it->second) n += f.documents;
  return n;
}

SpillCounters Spill::counters(const std::string& lane) const {
  const auto it = counters_.find(lane);
  return it == counters_.end() ? SpillCounters{} : it->second;
}

}  // namespace elk::delivery
