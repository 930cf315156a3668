// elk-extension: wiring only. Mode (the extension; the forwarder as `bootstrap` or `forward`) -> lifecycle -> exit
// code.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "config/settings.h"
#include "core/log.h"
#include "destinations/registry.h"
#include "modes/extension/runner.h"
#include "modes/forward/forwarder.h"
#include "modes/forward/replay.h"

#ifndef ELK_ARCH
#if defined(__x86_64__)
#define ELK_ARCH "x86_64"
#elif defined(__aarch64__)
#define ELK_ARCH "arm64"
#else
#define ELK_ARCH "unknown"
#endif
#endif

int main(int argc, char** argv) {
  // A closed stderr (or stdout) pipe must cost a log line, not the process: a write gets EPIPE instead of
  // SIGPIPE, which would kill the extension and, in Lambda, reset the environment.
  std::signal(SIGPIPE, SIG_IGN);
  const std::string self = argc > 0 ? argv[0] : "elk-extension";
  const auto slash = self.rfind('/');
  const std::string name = slash == std::string::npos ? self : self.substr(slash + 1);
  // The forwarder: a Lambda function's bootstrap (provided.al2023), or asked for by name.
  const bool forward = name == "bootstrap" || (argc > 1 && std::strcmp(argv[1], "forward") == 0);
  if (argc > 1 && std::strcmp(argv[1], "replay") == 0) {
    const elk::Logger log(stderr);
    return elk::forward::replay(std::vector<std::string>(argv + 2, argv + argc), elk::config::process_environment(),
                                log);
  }
  if (argc > 1 && !forward) {
    const std::string arg = argv[1];
    if (arg == "--version") {
      std::printf("elk-extension %s (commit %s, %s, built %s)\n", ELK_VERSION, ELK_GIT_COMMIT, ELK_ARCH, __DATE__);
      return 0;
    }
    if (arg == "--help") {
      std::printf(
          "elk-extension: an AWS Lambda extension that ships the function's logs to S3, Elasticsearch,\n"
          "Logstash and files. Lambda starts it from /opt/extensions/. As a Lambda function (named\n"
          "`bootstrap`, or `elk-extension forward`) it forwards CloudWatch Logs subscription events and\n"
          "Kinesis batches of them to the same destinations; `elk-extension replay FILE...` ships again\n"
          "the events of on-failure records. It is configured by environment variables:\n\n%s",
          elk::config::help_text(elk::destinations::all_settings()).c_str());
      return 0;
    }
    if (arg == "--settings-markdown") {
      std::fputs(elk::config::markdown_table(elk::destinations::all_settings()).c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr, "elk-extension: unknown argument '%s' (try --help or --version)\n", arg.c_str());
    return 2;
  }
  const elk::Logger log(stderr);
  const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (api == nullptr || *api == '\0') {
    log.error(std::string("AWS_LAMBDA_RUNTIME_API is not set: this program runs as a Lambda ") +
              (forward ? "function" : "extension") + " (see --help)");
    return 1;
  }
  if (forward) return elk::forward::run({elk::RuntimeApiAddress{api}, elk::config::process_environment()}, log);
  elk::extension::RunnerOptions options{name, elk::RuntimeApiAddress{api}, elk::config::process_environment()};
  return elk::extension::run(options, log);
}
