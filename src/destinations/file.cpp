#include "destinations/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "core/file_io.h"
#include "core/time.h"
#include "destinations/ndjson.h"

namespace elk::destinations {
namespace {

constexpr std::string_view directory_setting = "EXTENSION_LOG_DESTINATION_FILE_DIRECTORY";

constexpr config::Setting settings[] = {
    {directory_setting, config::Kind::text, "", 0, 0, "", config::no_choices, config::OnInvalid::reject,
     "Directory the NDJSON files are written to (created if missing); one file per batch, named after its first "
     "document.",
     "file", true},
};

class FileDestination final : public Destination {
 public:
  FileDestination(std::filesystem::path dir, std::string function, bool dead_letter)
      : dir_(std::move(dir)), function_(std::move(function)), dead_letter_(dead_letter) {}

  std::string_view name() const override { return "file"; }

  boost::asio::awaitable<SendResult> send(const buffer::Batch& batch, SteadyTime) override { co_return write(batch); }

 private:
  SendResult write(const buffer::Batch& batch) {
    if (batch.documents.empty()) return SendResult::ok();
    // <function>-<time>-<origin>-<sequence>.ndjson, of the first document (as S3's keys): unique across
    // batches and across processes sharing a directory, and the same when a batch is written again (a retry,
    // a replay from the spill by a later process), which then replaces the file rather than doubling it.
    const auto& first = batch.documents.front();
    std::string stamp = format_iso8601_ms(first.timestamp);
    std::erase(stamp, ':');
    const std::string& function = first.function.empty() ? function_ : first.function;  // another source's
    const std::string final_name =
        function + "-" + stamp + "-" + batch_unique(first, batch.documents.back(), dead_letter_) + ".ndjson";
    const auto final_path = dir_ / final_name;
    const auto temp_path = dir_ / ("." + final_name + ".tmp");

    std::string body;
    body.reserve(batch.bytes + batch.documents.size());
    append_ndjson(batch, 0, body);
    if (auto written = write_file(temp_path, body, O_TRUNC, 0644); !written)
      return SendResult::retryable(written.error().message);
    if (std::rename(temp_path.c_str(), final_path.c_str()) != 0) {
      const int err = errno;
      ::unlink(temp_path.c_str());
      return SendResult::retryable("cannot complete " + final_path.string() + ": " + errno_text(err));
    }
    return SendResult::ok();
  }

  std::filesystem::path dir_;
  std::string function_;
  bool dead_letter_;  // names its files "...-rejected"
};

// A process killed inside write() leaves its ".<name>.tmp" behind in the user's directory. Ours are removed at
// start once they are a minute old (a minute: another environment writing to the same directory, on EFS,
// keeps its temporary for milliseconds).
void remove_stale_temporaries(const std::filesystem::path& dir, const std::string& function, const Logger& log) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto prefix = "." + function + "-";
  const auto now = fs::file_time_type::clock::now();
  std::size_t removed = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (!name.starts_with(prefix) || !name.ends_with(".ndjson.tmp")) continue;
    std::error_code tec;
    const auto mtime = fs::last_write_time(it->path(), tec);
    if (tec || now - mtime < std::chrono::minutes(1)) continue;
    if (fs::remove(it->path(), tec)) ++removed;
  }
  if (removed)
    log.info("file: removed " + std::to_string(removed) + " unfinished file(s) (.tmp) left in " + dir.string() +
             " by a process that was stopped while writing");
}

Result<std::unique_ptr<Destination>> make(const Context& ctx) {
  const std::filesystem::path dir = ctx.config.text(directory_setting);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    return fail(std::string(directory_setting) + "='" + dir.string() + "': cannot create or use the directory (" +
                (ec ? ec.message() : "not a directory") + ")");
  if (::access(dir.c_str(), W_OK) != 0)
    return fail(std::string(directory_setting) + "='" + dir.string() + "': the directory is not writable");
  std::string function = ctx.function.function_name.empty() ? "lambda" : ctx.function.function_name;
  std::replace(function.begin(), function.end(), '/', '_');
  remove_stale_temporaries(dir, function, ctx.log);
  return std::make_unique<FileDestination>(dir, function, ctx.dead_letter);
}

}  // namespace

const DestinationType& file_destination() {
  static const DestinationType type{"file", settings, &make};
  return type;
}

}  // namespace elk::destinations
