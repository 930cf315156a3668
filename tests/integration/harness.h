// Runs the real elk-extension under the bundled lambda-emulator and collects what arrived.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace elk::itest {

struct RunOptions {
  std::string extension_bin = ELK_EXTENSION_BIN;
  std::string emulator_bin = ELK_EMULATOR_BIN;
  int invocations = 3;
  int lines = 5;
  std::string log_format = "text";
  std::string runtime = "mixed";
  bool telemetry_api = true;
  std::map<std::string, std::string> env;  // on top of the test's environment
  std::vector<std::string> extra_args;     // for the emulator
  bool file_destination = true;            // EXTENSION_LOG_DESTINATIONS=file into `out`
};

struct RunResult {
  int emulator_exit = -1;
  boost::json::object report;
  std::vector<boost::json::object> documents;                   // every line of every *.ndjson in out
  std::map<std::string, std::vector<std::string>> file_tokens;  // file -> the "inv=I line=J" tokens in it
  std::string output;                                           // the emulator's and extension's stderr+stdout
  std::filesystem::path dir;

  // The "inv=I line=J" tokens the emulator sent in function records, and how often each arrived.
  std::vector<std::string> sent_tokens() const;
  std::map<std::string, int> arrived_tokens() const;
  const boost::json::object& extension() const;
};

RunResult run(const RunOptions& options);

// Reads every NDJSON file below `dir` (gzip'd or not; enriched documents or raw telemetry records)
// into r.documents and r.file_tokens.
void collect_documents(RunResult& r, const std::filesystem::path& dir);

// A child process with its output in a file; killed (and reaped) when destroyed.
class Process {
 public:
  Process(std::vector<std::string> argv, const std::filesystem::path& output);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // Waits (up to `seconds`) for the output to contain `prefix` followed by a number; returns it or -1.
  long wait_for_number_after(const std::string& prefix, int seconds) const;

 private:
  int pid_ = -1;
  std::filesystem::path output_;
};

// The forwarder (a `bootstrap` link to elk-extension) run under the emulator's function mode.
struct ForwardRun {
  int exit = -1;
  std::string output;
  boost::json::object report;
  RunResult files;                              // what the file destination (dir/out) holds
  std::vector<boost::json::object> on_failure;  // the emulator's on-failure records
  std::filesystem::path dir;

  [[nodiscard]] const boost::json::array& invocations() const;
  [[nodiscard]] std::size_t answered(std::string_view answer) const;  // "response", "error", ...
};
// The emulator's `args` after --function, --report and --on-failure-file; `env` on top of the test's (the file
// destination into dir/out unless it names other destinations).
ForwardRun run_forwarder(std::vector<std::string> args, std::map<std::string, std::string> env);

// Runs a command to completion; returns its exit code and output (stdout + stderr).
std::pair<int, std::string> run_command(const std::vector<std::string>& argv,
                                        const std::map<std::string, std::string>& extra_env = {});

// The first "inv=I line=J" token in a text, or "".
std::string token_of(std::string_view text);

}  // namespace elk::itest
