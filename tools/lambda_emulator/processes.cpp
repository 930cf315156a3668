#include "processes.h"

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

extern char** environ;  // NOLINT: POSIX, read only (passed on to the children)

namespace elk::emulator {
namespace {

using namespace std::chrono_literals;

constexpr auto kCommandPollEvery = 1ms;  // waitpid(WNOHANG) polling of a --before-invocation command

// What a child of the emulator starts with: stdin, stdout and stderr, none of the emulator's sockets (as Lambda
// starts an extension).
class StdioOnly {
 public:
  StdioOnly() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawn_file_actions_addclosefrom_np(&actions_, 3);
  }
  ~StdioOnly() { posix_spawn_file_actions_destroy(&actions_); }
  StdioOnly(const StdioOnly&) = delete;
  StdioOnly& operator=(const StdioOnly&) = delete;
  [[nodiscard]] const posix_spawn_file_actions_t* get() const { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

}  // namespace

std::optional<ProcStats> read_proc(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  std::ifstream stat(base + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 1));
  std::vector<std::string> f;
  for (std::string s; fields >> s;) f.push_back(s);
  if (f.size() < 13) return std::nullopt;  // f[0] is field 3 (state); utime is field 14, stime 15
  ProcStats p;
  const long ticks = sysconf(_SC_CLK_TCK);
  p.cpu_us = (std::atoll(f[11].c_str()) + std::atoll(f[12].c_str())) * 1'000'000 / (ticks > 0 ? ticks : 100);
  std::ifstream status(base + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) p.rss_kb = std::atoll(line.c_str() + 6);
    if (line.starts_with("VmHWM:")) p.hwm_kb = std::atoll(line.c_str() + 6);
  }
  return p;
}

asio::awaitable<Status> run_shell(std::string command) {
  std::string sh = "/bin/sh", dash_c = "-c";
  char* argv[] = {sh.data(), dash_c.data(), command.data(), nullptr};
  pid_t pid = -1;
  if (const int rc = ::posix_spawn(&pid, sh.c_str(), StdioOnly().get(), nullptr, argv, environ); rc != 0)
    co_return fail("cannot start /bin/sh: " + std::string(std::strerror(rc)));
  asio::steady_timer timer(co_await asio::this_coro::executor);
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) co_return fail(std::string("waitpid failed: ") + std::strerror(errno));
    timer.expires_after(kCommandPollEvery);
    co_await timer.async_wait(use_tuple);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) co_return Status{};
  co_return fail(WIFEXITED(status) ? "exited with code " + std::to_string(WEXITSTATUS(status))
                                   : "died on signal " + std::to_string(WTERMSIG(status)));
}

std::vector<std::string> extension_environment(const FunctionSetup& function, std::uint16_t api_port) {
  std::vector<std::string> env;
  const auto keep = [](std::string_view entry) {
    for (std::string_view key : {"AWS_LAMBDA_RUNTIME_API=", "AWS_LAMBDA_FUNCTION_NAME=", "AWS_LAMBDA_FUNCTION_VERSION=",
                                 "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=", "AWS_LAMBDA_INITIALIZATION_TYPE=",
                                 "AWS_LAMBDA_LOG_FORMAT=", "AWS_REGION="})
      if (entry.starts_with(key)) return false;
    return true;
  };
  for (char** p = environ; p && *p; ++p)
    if (keep(*p)) env.emplace_back(*p);
  env.push_back("AWS_LAMBDA_RUNTIME_API=127.0.0.1:" + std::to_string(api_port));
  env.push_back("AWS_LAMBDA_FUNCTION_NAME=" + function.function_name);
  env.push_back("AWS_LAMBDA_FUNCTION_VERSION=" + std::string(kFunctionVersion));
  env.push_back("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + std::to_string(function.memory_mb));
  env.push_back("AWS_REGION=" + function.region);
  env.push_back("AWS_LAMBDA_INITIALIZATION_TYPE=on-demand");
  env.push_back(std::string("AWS_LAMBDA_LOG_FORMAT=") + (function.log_format == LogFormat::json ? "JSON" : "Text"));
  return env;
}

std::vector<std::string> function_environment(const FunctionSetup& function, std::uint16_t api_port,
                                              const std::string& log_stream) {
  std::vector<std::string> env = extension_environment(function, api_port);
  const auto replaced = [](std::string_view entry) {
    for (std::string_view key : {"AWS_DEFAULT_REGION=", "_HANDLER=", "LAMBDA_TASK_ROOT=", "AWS_LAMBDA_LOG_GROUP_NAME=",
                                 "AWS_LAMBDA_LOG_STREAM_NAME=", "AWS_EXECUTION_ENV="})
      if (entry.starts_with(key)) return true;
    return false;
  };
  std::erase_if(env, replaced);
  env.push_back("AWS_DEFAULT_REGION=" + function.region);
  env.emplace_back("_HANDLER=bootstrap");
  env.emplace_back("LAMBDA_TASK_ROOT=/var/task");
  env.push_back("AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + function.function_name);
  env.push_back("AWS_LAMBDA_LOG_STREAM_NAME=" + log_stream);
  return env;
}

Result<pid_t> spawn_process_group(const std::filesystem::path& path, std::vector<std::string> env,
                                  Clock::time_point& started) {
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string arg0 = path.string();
  char* argv[] = {arg0.data(), nullptr};

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  started = Clock::now();
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, arg0.c_str(), StdioOnly().get(), &attr, argv, envp.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return fail("cannot start " + arg0 + ": " + std::strerror(rc));
  return pid;
}

std::optional<Exit> poll_exit(pid_t pid) {
  int status = 0;
  rusage usage{};
  const pid_t r = ::wait4(pid, &status, WNOHANG, &usage);
  if (r == 0 || (r < 0 && errno == EINTR)) return std::nullopt;
  Exit exit;
  if (r > 0) exit.maxrss_kb = usage.ru_maxrss;
  if (r > 0 && WIFEXITED(status)) exit.exit_code = WEXITSTATUS(status);
  if (r > 0 && WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
  return exit;
}

void signal_group(pid_t pid, int sig) {
  if (pid > 0) ::kill(-pid, sig);
}

void wait_blocking(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace elk::emulator
