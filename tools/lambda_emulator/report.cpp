#include "report.h"

#include <algorithm>
#include <boost/json.hpp>

#include "core/time.h"

namespace elk::emulator {
namespace {

namespace json = boost::json;

json::value optional_json(const std::optional<std::int64_t>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

}  // namespace

json::object report(const ReportInput& in) {
  const Options& options = in.options;
  const RunRecord& record = in.record;
  std::optional<Arrivals> arrived;
  std::string arrivals_error;
  if (options.arrivals_dir) {
    if (auto a = read_arrivals(*options.arrivals_dir))
      arrived = std::move(*a);
    else
      arrivals_error = a.error().message;
  }

  json::array invocations;
  for (std::size_t n = 0; n < record.invocations.size(); ++n) {
    const auto& inv = record.invocations[n];
    const int i = static_cast<int>(n) + 1;
    // Added as Lambda bills it: the runtime's end (runtimeDone emitted, before the Telemetry API's buffering)
    // -> the extension's next call; 0 for an extension that called next before the runtime finished.
    std::optional<std::int64_t> worst;
    json::object per_extension;
    for (const auto& e : in.extensions) {
      if (!e.wants("INVOKE")) continue;
      std::optional<std::int64_t> added;
      if (const auto next = e.post_invoke_next.find(i); next != e.post_invoke_next.end())
        added = std::max<std::int64_t>(us_between(inv.runtime_done_at, next->second), 0);
      per_extension[e.name] = optional_json(added);
      if (added) worst = std::max(worst.value_or(0), *added);
    }
    json::object o{{"requestId", inv.request_id.value},
                   {"status", inv.status},
                   {"durationMs", inv.duration_ms},
                   {"addedLatencyUs", optional_json(worst)},
                   {"addedLatencyUsByExtension", std::move(per_extension)},
                   {"extensionsCalledNextInTime", inv.in_time}};
    if (arrived) {
      // The share of this invocation's lines that had arrived when the next INVOKE was handed out.
      json::value share = nullptr;
      if (n + 1 < record.invocations.size() && options.lines > 0) {
        const std::int64_t next_invoke = record.invocations[n + 1].invoked_us;
        int before = 0;
        for (int j = 1; j <= options.lines; ++j)
          if (const auto it = arrived->find({i, j});
              it != arrived->end() && *std::min_element(it->second.begin(), it->second.end()) < next_invoke)
            ++before;
        share = static_cast<double>(before) / options.lines;
      }
      o["linesBeforeNextInvoke"] = std::move(share);
    }
    invocations.push_back(std::move(o));
  }

  // Freshness of every function line: written by the runtime -> arrived at the destination.
  json::value arrivals = nullptr;
  if (arrived) {
    std::vector<std::int64_t> fresh_us;
    std::size_t missing = 0, doubled = 0;
    for (const auto& [token, emitted] : record.emitted_us) {
      const auto it = arrived->find(token);
      if (it == arrived->end()) {
        ++missing;
        continue;
      }
      if (it->second.size() > 1) ++doubled;
      fresh_us.push_back(std::max<std::int64_t>(*std::min_element(it->second.begin(), it->second.end()) - emitted, 0));
    }
    std::sort(fresh_us.begin(), fresh_us.end());
    const auto pct = [&](double p) -> json::value {
      if (fresh_us.empty()) return nullptr;
      return static_cast<double>(fresh_us[static_cast<std::size_t>(static_cast<double>(fresh_us.size() - 1) * p)]) /
             1000.0;
    };
    arrivals = json::object{{"linesSent", record.emitted_us.size()},
                            {"linesArrived", fresh_us.size()},
                            {"missing", missing},
                            {"doubled", doubled},
                            {"freshnessMs", json::object{{"p50", pct(0.5)}, {"p99", pct(0.99)}, {"max", pct(1.0)}}}};
  } else if (!arrivals_error.empty()) {
    arrivals = json::object{{"error", arrivals_error}};
  }

  json::array extensions;
  for (const auto& e : in.extensions) {
    const auto since_spawn = [&](const std::optional<Clock::time_point>& t) {
      return t ? json::value(us_between(e.spawned, *t)) : json::value(nullptr);
    };
    json::array registered_events;
    for (const auto& ev : e.events) registered_events.emplace_back(ev);
    // The peak is the largest figure seen: the kernel's RSS counters are approximate (per-CPU batches), so its
    // figure at exit may come out a little below a sample taken earlier.
    std::optional<std::int64_t> hwm_kb = e.reaped_maxrss_kb;
    if (e.stats) hwm_kb = std::max({hwm_kb.value_or(0), e.stats->hwm_kb, e.stats->rss_kb});
    extensions.push_back(
        json::object{{"name", e.name},
                     {"pid", e.pid},
                     {"events", std::move(registered_events)},
                     {"registerUs", since_spawn(e.registered_at)},
                     {"initUs", since_spawn(e.first_next_at)},
                     {"exitCode", optional_json(e.exit_code)},
                     {"signal", optional_json(e.signal)},
                     {"exitedBeforeDeadline", e.exited && !e.killed && e.shutdown_sent && !e.exited_early},
                     {"exitedEarly", e.exited_early},
                     {"killed", e.killed},
                     {"plannedKill", e.planned_kill},
                     {"calledNextBeforeKill",
                      e.called_next_before_kill ? json::value(*e.called_next_before_kill) : json::value(nullptr)},
                     {"cpuUs", e.stats ? json::value(e.stats->cpu_us) : json::value(nullptr)},
                     {"rssKb", e.stats ? json::value(e.stats->rss_kb) : json::value(nullptr)},
                     {"hwmKb", optional_json(hwm_kb)}});
  }

  const auto errors = [](const std::vector<ErrorReport>& list) {
    json::array a;
    for (const auto& x : list)
      a.push_back(json::object{{"extension", x.extension}, {"errorType", x.error_type}, {"body", x.body}});
    return a;
  };
  json::array failures;
  for (const auto& f : record.failures) failures.emplace_back(f);

  return json::object{
      {"functionName", options.function.function_name},
      {"port", in.port},
      {"initDurationMs", record.init_duration_ms ? json::value(*record.init_duration_ms) : json::value(nullptr)},
      {"functionLinesSent", in.lines_sent},
      {"invocations", std::move(invocations)},
      {"arrivals", std::move(arrivals)},
      {"killedAtInvocation", record.killed_at > 0 ? json::value(record.killed_at) : json::value(nullptr)},
      {"shutdownReason", record.shutdown_reason ? json::value(*record.shutdown_reason) : json::value(nullptr)},
      {"subscriptions", record.subscriptions},
      {"extensions", std::move(extensions)},
      {"initErrors", errors(record.init_errors)},
      {"exitErrors", errors(record.exit_errors)},
      {"failures", std::move(failures)},
      {"function", in.function ? json::value(*in.function) : json::value(nullptr)},
      {"ok", record.init_errors.empty() && record.failures.empty()}};
}

// report(), then "events": every event as each subscriber got it, written from its serialized text (a tree of
// them would hold a 100 MB burst of lines once more).
void write_report(std::ostream& out, const ReportInput& in) {
  const std::string head = json::serialize(report(in));
  out.write(head.data(), static_cast<std::streamsize>(head.size() - 1));  // without its closing brace
  out << ",\"events\":[";
  bool first = true;
  for (const auto& s : in.subscribers) {
    const std::string subscriber = json::serialize(json::value(s->extension));
    for (const auto& item : s->items) {
      out << (first ? "" : ",");
      first = false;
      if (in.options.function.damaged_lines && item.text.find(kLoneSurrogateMark) == std::string::npos) {
        // The report stays valid JSON: a damaged line as function_record made it, with its marks.
        std::string text = item.text;
        if (const auto at = text.find('\xFF'); at != std::string::npos) text.replace(at, 1, kBadByteMark);
        if (const auto at = text.find("\\ud83d"); at != std::string::npos) text.replace(at, 6, kLoneSurrogateMark);
        out.write(text.data(), static_cast<std::streamsize>(text.size() - 1));
      } else {
        out.write(item.text.data(), static_cast<std::streamsize>(item.text.size() - 1));  // {time,type,record
      }
      out << ",\"subscriber\":" << subscriber << ",\"delivered\":" << (item.acked_at ? "true" : "false")
          << ",\"deliveredAt\":" << (item.acked_at ? "\"" + format_iso8601_ms(*item.acked_at) + "\"" : "null") << '}';
    }
  }
  out << "]}\n";
}

}  // namespace elk::emulator
