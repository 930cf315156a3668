// lambda-emulator: runs Lambda extensions locally (Extensions, Telemetry and Logs APIs, scripted
// invocations, freeze, shutdown deadline) and reports what they did. See --help.
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "emulator.h"
#include "script.h"

namespace {

using elk::emulator::Options;

constexpr std::string_view kUsage = R"(usage: lambda-emulator --extensions-dir DIR [options]
       lambda-emulator --function PATH [options]

Starts every executable in DIR as Lambda starts /opt/extensions/*, serves the Extensions API, the
Telemetry API and the Logs API on 127.0.0.1, plays init, N invocations and shutdown, and reports.
With --function instead, plays Lambda running PATH as a log forwarder's custom runtime (see below).

  --extensions-dir DIR        the extensions to run (this or --function is required)
  --invocations N             invocations to play (default 3)
  --lines M                   function log lines per invocation (default 5)
  --log-format text|json      the function's log format (default text)
  --runtime node|python|mixed log line style (default mixed: node, python, plain print in turn)
  --function-name NAME        (default demo-function)
  --memory-mb MB              128..10240 (default 128)
  --invoke-ms MS              how long each invocation runs (default 5)
  --function-timeout-ms MS    bound on an invocation incl. the extensions' work (default 3000)
  --shutdown-deadline-ms MS   time the extensions get after SHUTDOWN before SIGKILL (default 2000)
  --shutdown-reason REASON    shutdownReason of the SHUTDOWN event (default spindown)
  --idle-ms MS                frozen time between invocations (default 0)
  --line-bytes N              pad every invocation line to N bytes as the runtime writes it (the text
                              line with its newline, or the JSON-format object serialized), with plain
                              ASCII after its "inv=I line=J" token; longer lines stay as they are; at most
                              262144 (default 0: no padding). --lines 100000 --line-bytes 1000 is 100 MB
  --damaged-lines on|off      line 3 of every invocation carries what breaks strict JSON readers: an invalid
                              UTF-8 byte and a lone surrogate escape (\ud83d, JSON.stringify of a string cut
                              inside an emoji) and, in the JSON format, a field nested 40 deep (default off)
  --before-invocation N=CMD   run /bin/sh -c CMD to completion just before invocation N (1-based) is
                              handed to the extensions (after invocation N-1 ended and its idle time);
                              repeatable, run in the order given. A command that exits non-zero ends the run: no further
                              invocation, SHUTDOWN as usual, exit code 1
  --kill-at-invocation N      during invocation N, SIGKILL every extension's process group, as when the
                              sandbox is lost without warning (Lambda's own resets send SHUTDOWN first),
                              and end the run there: no platform.report, no SHUTDOWN. The report marks
                              the extensions "killed" and "plannedKill"; exit code 0 if nothing else
                              went wrong
  --kill-signal KILL|TERM     with --kill-at-invocation: the signal sent (default KILL); TERM as the Runtime
                              Interface Emulator or `docker stop` sends it (an extension that has not
                              exited 2 s later is killed)
  --kill-delay-ms MS          with --kill-at-invocation: kill MS after invocation N's platform.runtimeDone
                              was delivered to (answered by) every telemetry listener, i.e. while the
                              extensions flush, before they call next (default 0: at once). The report's
                              calledNextBeforeKill says whether an extension had called next already
  --telemetry-api on|off      off: the Telemetry API answers 404, only the Logs API works (default on)
  --port PORT                 port of the APIs; 0 picks a free one (default 0)
  --report FILE               write a JSON report of the run
  --summarize-dir DIR         afterwards, summarize the *.ndjson documents found in DIR on stdout
  --arrivals-dir DIR          a file destination's directory: the report then gives each function line's
                              freshness (written by the runtime -> the modification time of the file that
                              holds it: arrivals.freshnessMs p50/p99/max, missing, doubled) and, per
                              invocation, linesBeforeNextInvoke: the share of its lines there before the
                              next INVOKE was handed out
  --quiet                     print errors only

Function mode: PATH is started as a provided.al2023 function's bootstrap, with the emulator's environment
plus AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME/_VERSION/_MEMORY_SIZE, AWS_REGION, AWS_DEFAULT_REGION,
_HANDLER=bootstrap, LAMBDA_TASK_ROOT, AWS_LAMBDA_LOG_GROUP_NAME and AWS_LAMBDA_LOG_STREAM_NAME, and its
output passed through. The Runtime API (/2018-06-01) serves it: next is held until an event is ready (the
runtime is frozen, SIGSTOP, between invocations), response and error are answered 202, an unknown or
already answered request id 400 InvalidRequestID, init/error 202 (the run ends, exit code 2). An event
not answered within --function-timeout-ms is an error (Sandbox.Timedout) and a runtime that exits during
an invocation one too (Runtime.ExitError): either way the runtime is killed and started again (a new
init) for the next attempt. --invocations N invocations of a simulated source function, --lines M
function lines each (in --log-format, --runtime), become its CloudWatch Logs events (START, the lines,
END, REPORT; INIT_START and Init Duration on a stream's first), one subscription payload per invocation.
--function-name defaults to elk-forwarder here.
  --function PATH             the function's runtime (bootstrap) to run
  --events cloudwatch|kinesis cloudwatch: each payload is an asynchronous invocation
                              {"awslogs":{"data":base64(gzip(JSON))}}, after a CONTROL_MESSAGE one; an error,
                              timeout or crash is retried (same event, new request id) and, when the retries
                              are exhausted, its on-failure record written. kinesis: the payloads are the
                              records of Kinesis event-source-mapping batches; the function's
                              {"batchItemFailures":[{"itemIdentifier":SEQ}]} answer makes the batch be retried
                              from its lowest failed sequence number on (a function error, an unknown or empty
                              itemIdentifier or an answer that is not JSON: the whole batch), and when the
                              retries are exhausted the batch's on-failure record (KinesisBatchInfo) is written
                              (default cloudwatch)
  --source-function NAME      the function whose logs are forwarded, log group /aws/lambda/NAME
                              (default demo-function)
  --streams S                 the source's log streams; its invocations go round-robin over them (default 2)
  --source-timeout-every N    every Nth source invocation times out: its stream holds "<time> <request id>
                              Task timed out after 3.00 seconds" (text format) and a REPORT with
                              Status: timeout (default 0: none)
  --batch-size B              Kinesis records per batch, 1..10000 (default 3)
  --max-retry-attempts N      0..2: retries of a failed event (asynchronous) or batch (Kinesis) (default 2)
  --retry-delay-ms MS         the wait before each retry (default 50; real Lambda waits about 1 minute, then
                              2, and meanwhile invokes newer events; here a retry comes before the next event)
  --on-failure-file FILE      append each on-failure destination record there, one JSON line each
  --bad-payloads on|off       cloudwatch: after the CONTROL_MESSAGE and between the good payloads, one event
                              each of: invalid base64, base64 of bytes that are not gzip, a gzip bomb (1 MB that
                              inflates to 1 GiB of zeros), gzip of invalid JSON, a DATA_MESSAGE with no
                              logEvents, an event that is not awslogs at all (default off)
In function mode --before-invocation N counts every event handed to the runtime, each retry attempt as
one (N from 1); the report's "function" says, per event handed out: requestId, event (the payload, or the
Kinesis batch, 1-based), kind (control|data|kinesis|invalid-base64|not-gzip|gzip-bomb|invalid-json|
empty-log-events|not-awslogs), attempt, answer (response|error|timeout|crash), errorType, body (the first
4 KiB), durationUs (handed out -> answered); inits (ms: process start -> its first next, and why); onFailure
(records written); violations; cpuUs and rssKb as for an extension, at the end of the run, and hwmKb, the
runtime's peak VmHWM read before each time it is ended (not wait4's ru_maxrss, which Linux carries over from
the forked emulator across the exec). The end:
SIGTERM to the runtime, SIGKILL after --shutdown-deadline-ms. Exit codes: 0 as planned; 2 init failed
(init/error, an exit or no next within 10 s); 3 the runtime misbehaved (exited outside an invocation,
answered twice or an unknown request id, called next without answering).

Exit codes: 0 as planned; 1 usage or internal error, or a --before-invocation command failed; 2 an
extension failed init; 3 an extension missed a deadline, was killed (other than by
--kill-at-invocation), crashed, exited non-zero or posted exit/error.

The report gives, per invocation, addedLatencyUs: the time the extensions add to it as Lambda bills
it, from the runtime's end (platform.runtimeDone as emitted, before the Telemetry API's buffering) to
the last extension's next call (0 when they called next before the runtime finished); per extension,
cpuUs and rssKb (CPU time and resident memory when SHUTDOWN is sent, or at the planned kill) and
hwmKb, its peak resident memory over its whole life: the kernel's figure when the process is reaped
(wait4's ru_maxrss, its VmHWM at exit), or the VmHWM/VmRSS read when SHUTDOWN was sent (or at the
kill) if that is larger (the kernel's counters are approximate).
)";

struct Cli {
  Options options;
  std::optional<std::filesystem::path> summarize_dir;
  bool help = false;
};

bool parse_int(std::string_view text, long long lo, long long hi, long long& out) {
  long long v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

// Every problem is reported, in one pass.
std::vector<std::string> parse(int argc, char** argv, Cli& cli) {
  std::vector<std::string> problems;
  Options& o = cli.options;
  bool have_dir = false, kill_delay_given = false, name_given = false, function_options_given = false;
  elk::emulator::FunctionMode fm;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      cli.help = true;
      continue;
    }
    if (arg == "--quiet") {
      o.quiet = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      problems.push_back("unexpected argument '" + std::string(arg) + "'");
      continue;
    }
    std::string_view name = arg, value;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      problems.push_back(std::string(name) + " needs a value");
      continue;
    }
    const auto number = [&](long long lo, long long hi, auto& out) {
      long long v = 0;
      if (parse_int(value, lo, hi, v))
        out = static_cast<std::remove_reference_t<decltype(out)>>(v);
      else
        problems.push_back(std::string(name) + " '" + std::string(value) + "': expected an integer from " +
                           std::to_string(lo) + " to " + std::to_string(hi));
    };
    const auto millis = [&](long long lo, long long hi, std::chrono::milliseconds& out) {
      long long v = out.count();
      number(lo, hi, v);
      out = std::chrono::milliseconds(v);
    };
    const auto choice = [&](std::initializer_list<std::string_view> allowed) {
      for (auto a : allowed)
        if (value == a) return true;
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : "|") + std::string(a);
      problems.push_back(std::string(name) + " '" + std::string(value) + "': expected " + list);
      return false;
    };
    const bool function_option = name == "--events" || name == "--source-function" || name == "--streams" ||
                                 name == "--source-timeout-every" || name == "--batch-size" ||
                                 name == "--max-retry-attempts" || name == "--retry-delay-ms" ||
                                 name == "--on-failure-file" || name == "--bad-payloads";
    function_options_given = function_options_given || function_option;
    if (name == "--function") {
      fm.path = std::string(value);
      o.function_mode = fm;
    } else if (name == "--events") {
      if (choice({"cloudwatch", "kinesis"}))
        fm.events = value == "kinesis" ? elk::emulator::EventSource::kinesis : elk::emulator::EventSource::cloudwatch;
    } else if (name == "--source-function") {
      if (value.empty() || value.size() > 64)
        problems.emplace_back("--source-function: 1 to 64 characters");
      else
        fm.source_function = std::string(value);
    } else if (name == "--streams") {
      number(1, 1000, fm.streams);
    } else if (name == "--source-timeout-every") {
      number(0, 1000000, fm.source_timeout_every);
    } else if (name == "--batch-size") {
      number(1, 10000, fm.batch_size);
    } else if (name == "--max-retry-attempts") {
      number(0, 2, fm.max_retry_attempts);
    } else if (name == "--retry-delay-ms") {
      millis(0, 600000, fm.retry_delay);
    } else if (name == "--on-failure-file") {
      fm.on_failure_file = std::string(value);
    } else if (name == "--bad-payloads") {
      if (choice({"on", "off"})) fm.bad_payloads = value == "on";
    } else if (name == "--extensions-dir") {
      o.extensions_dir = std::string(value);
      have_dir = true;
    } else if (name == "--invocations") {
      number(0, 100000, o.invocations);
    } else if (name == "--lines") {
      number(0, 100000, o.lines);
    } else if (name == "--log-format") {
      if (choice({"text", "json"}))
        o.function.log_format = value == "json" ? elk::emulator::LogFormat::json : elk::emulator::LogFormat::text;
    } else if (name == "--runtime") {
      if (choice({"node", "python", "mixed"}))
        o.function.runtime = value == "node"     ? elk::emulator::Runtime::node
                             : value == "python" ? elk::emulator::Runtime::python
                                                 : elk::emulator::Runtime::mixed;
    } else if (name == "--function-name") {
      const bool valid = !value.empty() && value.size() <= 64 &&
                         value.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
                             std::string_view::npos;
      name_given = valid;
      if (valid)
        o.function.function_name = std::string(value);
      else
        problems.push_back("--function-name '" + std::string(value) + "': 1 to 64 of A-Z a-z 0-9 - _");
    } else if (name == "--memory-mb") {
      number(128, 10240, o.function.memory_mb);
    } else if (name == "--invoke-ms") {
      millis(0, 900000, o.invoke);
    } else if (name == "--function-timeout-ms") {
      millis(1, 900000, o.function_timeout);
    } else if (name == "--shutdown-deadline-ms") {
      millis(0, 600000, o.shutdown_deadline);
    } else if (name == "--idle-ms") {
      millis(0, 3600000, o.idle);
    } else if (name == "--line-bytes") {
      number(0, static_cast<long long>(elk::emulator::kMaxLineBytes), o.function.line_bytes);
    } else if (name == "--before-invocation") {
      const auto eq = value.find('=');
      long long n = 0;
      if (eq == std::string_view::npos || !parse_int(value.substr(0, eq), 1, 100000, n) || eq + 1 == value.size())
        problems.push_back("--before-invocation '" + std::string(value) + "': expected N=COMMAND, N from 1");
      else
        o.before_invocation.emplace_back(static_cast<int>(n), std::string(value.substr(eq + 1)));
    } else if (name == "--kill-at-invocation") {
      number(1, 100000, o.kill_at_invocation);
    } else if (name == "--kill-delay-ms") {
      millis(0, 900000, o.kill_delay);
      kill_delay_given = true;
    } else if (name == "--kill-signal") {
      if (choice({"KILL", "TERM"})) o.kill_signal = value == "TERM" ? SIGTERM : SIGKILL;
    } else if (name == "--shutdown-reason") {
      if (value.empty()) problems.emplace_back("--shutdown-reason must not be empty");
      o.shutdown_reason = std::string(value);
    } else if (name == "--damaged-lines") {
      if (choice({"on", "off"})) o.function.damaged_lines = value == "on";
    } else if (name == "--telemetry-api") {
      if (choice({"on", "off"})) o.telemetry_api = value == "on";
    } else if (name == "--port") {
      number(0, 65535, o.port);
    } else if (name == "--report") {
      o.report = std::string(value);
    } else if (name == "--arrivals-dir") {
      o.arrivals_dir = std::string(value);
    } else if (name == "--summarize-dir") {
      cli.summarize_dir = std::string(value);
    } else {
      problems.push_back("unknown option " + std::string(name));
    }
  }
  if (o.function_mode) {
    const auto path = o.function_mode->path;
    o.function_mode = fm;  // with every function option, wherever it was given
    o.function_mode->path = path;
    if (!name_given) o.function.function_name = "elk-forwarder";
    if (fm.bad_payloads && fm.events == elk::emulator::EventSource::kinesis)
      problems.emplace_back("--bad-payloads is for --events cloudwatch");
    if (o.kill_at_invocation > 0) problems.emplace_back("--kill-at-invocation is for extensions, not --function");
  } else if (function_options_given) {
    problems.emplace_back(
        "--events, --source-function, --streams, --batch-size, --max-retry-attempts, "
        "--retry-delay-ms, --on-failure-file and --bad-payloads need --function");
  }
  if (have_dir && o.function_mode) problems.emplace_back("give --extensions-dir or --function, not both");
  if (!have_dir && !o.function_mode && !cli.help) problems.emplace_back("--extensions-dir or --function is required");
  for (const auto& [n, command] : o.before_invocation)
    if (!o.function_mode && n > o.invocations)
      problems.push_back("--before-invocation " + std::to_string(n) + ": there are only " +
                         std::to_string(o.invocations) + " invocations");
  if (o.kill_at_invocation > o.invocations)
    problems.push_back("--kill-at-invocation " + std::to_string(o.kill_at_invocation) + ": there are only " +
                       std::to_string(o.invocations) + " invocations");
  if (kill_delay_given && o.kill_at_invocation == 0)
    problems.emplace_back("--kill-delay-ms needs --kill-at-invocation");
  if (o.invoke >= o.function_timeout) problems.emplace_back("--invoke-ms must be shorter than --function-timeout-ms");
  return problems;
}

}  // namespace

int main(int argc, char** argv) {
  Cli cli;
  if (const char* region = std::getenv("AWS_REGION"); region && *region) cli.options.function.region = region;
  const auto problems = parse(argc, argv, cli);
  if (cli.help) {
    std::cout << kUsage;
    return 0;
  }
  if (!problems.empty()) {
    for (const auto& p : problems) std::fprintf(stderr, "[emulator] error: %s\n", p.c_str());
    std::fprintf(stderr, "[emulator] see lambda-emulator --help\n");
    return elk::emulator::kExitInternal;
  }
  auto outcome = elk::emulator::run(cli.options);
  if (cli.summarize_dir && outcome.exit_code != elk::emulator::kExitInternal) {
    if (auto st = elk::emulator::summarize(*cli.summarize_dir, outcome.sent_tokens, std::cout); !st) {
      std::fprintf(stderr, "[emulator] error: %s\n", st.error().message.c_str());
      if (outcome.exit_code == elk::emulator::kExitOk) outcome.exit_code = elk::emulator::kExitInternal;
    }
  }
  return outcome.exit_code;
}
