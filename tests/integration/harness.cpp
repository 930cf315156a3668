#include "harness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "fakes/common.h"

extern char** environ;

namespace elk::itest {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path fresh_dir() {
  static int n = 0;
  auto d = fs::temp_directory_path() / ("elk-itest-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
  fs::remove_all(d);
  fs::create_directories(d / "extensions");
  fs::create_directories(d / "out");
  return d;
}

}  // namespace

void collect_documents(RunResult& r, const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    const auto name = f.filename().string();
    if (name.starts_with(".")) continue;  // temporary files
    std::string text = slurp(f);
    if (text.size() >= 2 && static_cast<unsigned char>(text[0]) == 0x1f &&
        static_cast<unsigned char>(text[1]) == 0x8b) {
      auto plain = fakes::inflate(text, true, std::size_t{1} << 30);
      if (!plain) throw std::runtime_error(f.string() + ": " + plain.error().message);
      text = std::move(*plain);
    }
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      auto v = json::parse(line).as_object();
      // An enriched document, or a raw telemetry record ({"time","type","record"}).
      std::string action, message;
      if (const auto* ev = v.if_contains("event")) {
        action = std::string(ev->at("action").as_string());
        if (const auto* m = v.if_contains("message"); m && m->is_string()) message = std::string(m->get_string());
      } else if (const auto* t = v.if_contains("type")) {
        action = std::string(t->as_string());
        const auto& rec = v.at("record");
        message = rec.is_string() ? std::string(rec.get_string()) : json::serialize(rec);
      }
      r.documents.push_back(std::move(v));
      auto token = token_of(message);
      if (!token.empty() && action == "function") r.file_tokens[fs::relative(f, dir).string()].push_back(token);
    }
  }
}

std::string token_of(std::string_view text) {
  static const std::regex re(R"(inv=\d+ line=\d+)");
  std::match_results<std::string_view::const_iterator> m;
  if (std::regex_search(text.begin(), text.end(), m, re)) return m.str();
  return {};
}

RunResult run(const RunOptions& o) {
  RunResult r;
  r.dir = fresh_dir();
  fs::create_symlink(fs::absolute(o.extension_bin), r.dir / "extensions" / "elk-extension");

  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos && !kv.starts_with("EXTENSION_LOG_")) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (o.file_destination) {
    env["EXTENSION_LOG_DESTINATIONS"] = "file";
    env["EXTENSION_LOG_DESTINATION_FILE_DIRECTORY"] = (r.dir / "out").string();
  }
  env["EXTENSION_LOG_SPILL_DIRECTORY"] = (r.dir / "spill").string();  // tests run in parallel
  env["EXTENSION_LOG_LISTENER_PORT"] = "0";
  for (const auto& [k, v] : o.env) env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::vector<std::string> args = {o.emulator_bin,
                                   "--extensions-dir",
                                   (r.dir / "extensions").string(),
                                   "--invocations",
                                   std::to_string(o.invocations),
                                   "--lines",
                                   std::to_string(o.lines),
                                   "--log-format",
                                   o.log_format,
                                   "--runtime",
                                   o.runtime,
                                   "--telemetry-api",
                                   o.telemetry_api ? "on" : "off",
                                   "--report",
                                   (r.dir / "report.json").string()};
  if (o.file_destination) args.insert(args.end(), {"--arrivals-dir", (r.dir / "out").string()});
  args.insert(args.end(), o.extra_args.begin(), o.extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const auto out_path = (r.dir / "output.txt").string();
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);  // not the fakes' sockets: see spawn() below
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data()) != 0)
    throw std::runtime_error(std::string("cannot start ") + argv[0]);
  posix_spawn_file_actions_destroy(&fa);

  int status = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(4);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > give_up) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.emulator_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.output = slurp(out_path);
  if (fs::exists(r.dir / "report.json")) {
    boost::system::error_code ec;
    json::parse_options deep;  // the emulator's --damaged-lines nest 40 deep
    deep.max_depth = 128;
    auto v = json::parse(slurp(r.dir / "report.json"), ec, {}, deep);
    if (!ec && v.is_object()) r.report = v.as_object();
  }
  collect_documents(r, r.dir / "out");
  return r;
}

namespace {

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

pid_t spawn(std::vector<std::string> argv, const std::string& output, std::vector<std::string> env) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  // Nothing else of this process: a fake's listening socket held by a child would go on accepting
  // connections (into its backlog) while the fake refuses them, and its port could not be bound again.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  pid_t pid = -1;
  auto args = c_strings(argv);
  auto envp = c_strings(env);
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  return pid;
}

std::vector<std::string> environment_with(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

}  // namespace

Process::Process(std::vector<std::string> argv, const std::filesystem::path& output) : output_(output) {
  pid_ = spawn(std::move(argv), output.string(), environment_with({}));
}

Process::~Process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
}

long Process::wait_for_number_after(const std::string& prefix, int seconds) const {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    const auto text = slurp(output_);
    if (auto p = text.find(prefix); p != std::string::npos) {
      std::size_t i = p + prefix.size();
      long v = 0;
      bool any = false;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
        v = v * 10 + (text[i++] - '0'), any = true;
      if (any) return v;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

std::pair<int, std::string> run_command(const std::vector<std::string>& argv,
                                        const std::map<std::string, std::string>& extra_env) {
  const auto out = fs::temp_directory_path() / ("elk-cmd-" + std::to_string(::getpid()) + ".txt");
  const pid_t pid = spawn(argv, out.string(), environment_with(extra_env));
  int status = 0;
  ::waitpid(pid, &status, 0);
  auto text = slurp(out);
  fs::remove(out);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text};
}

std::vector<std::string> RunResult::sent_tokens() const {
  std::vector<std::string> out;
  const auto* events = report.if_contains("events");
  if (!events) return out;
  for (const auto& e : events->as_array()) {
    const auto& o = e.as_object();
    if (o.at("type") != "function") continue;
    const auto& rec = o.at("record");
    std::string text = rec.is_string() ? std::string(rec.get_string()) : json::serialize(rec);
    auto t = token_of(text);
    if (!t.empty()) out.push_back(t);
  }
  return out;
}

std::map<std::string, int> RunResult::arrived_tokens() const {
  std::map<std::string, int> out;
  for (const auto& [file, tokens] : file_tokens)
    for (const auto& t : tokens) ++out[t];
  return out;
}

const json::object& RunResult::extension() const {
  static const json::object empty;
  const auto* ex = report.if_contains("extensions");
  if (!ex || ex->as_array().empty()) return empty;
  return ex->as_array()[0].as_object();
}

const json::array& ForwardRun::invocations() const {
  return report.at("function").at("invocations").as_array();
}

std::size_t ForwardRun::answered(std::string_view answer) const {
  std::size_t n = 0;
  for (const auto& i : invocations()) n += i.at("answer").as_string() == answer;
  return n;
}

ForwardRun run_forwarder(std::vector<std::string> args, std::map<std::string, std::string> env) {
  ForwardRun r;
  r.dir = fs::temp_directory_path() / ("elk-itest-fwd-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(r.dir);
  fs::create_directories(r.dir / "out");
  fs::create_symlink(ELK_EXTENSION_BIN, r.dir / "bootstrap");
  env.try_emplace("EXTENSION_LOG_DESTINATIONS", "file");
  env.try_emplace("EXTENSION_LOG_DESTINATION_FILE_DIRECTORY", (r.dir / "out").string());
  std::vector<std::string> argv = {ELK_EMULATOR_BIN,
                                   "--function",
                                   (r.dir / "bootstrap").string(),
                                   "--report",
                                   (r.dir / "report.json").string(),
                                   "--on-failure-file",
                                   (r.dir / "on-failure.jsonl").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto [code, output] = run_command(argv, env);
  r.exit = code;
  r.output = output;
  const auto report = slurp(r.dir / "report.json");
  if (!report.empty()) r.report = json::parse(report).as_object();
  collect_documents(r.files, r.dir / "out");
  std::istringstream failures(slurp(r.dir / "on-failure.jsonl"));
  for (std::string line; std::getline(failures, line);)
    if (!line.empty()) r.on_failure.push_back(json::parse(line).as_object());
  return r;
}

}  // namespace elk::itest
