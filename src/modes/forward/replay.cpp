#include "modes/forward/replay.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fstream>
#include <sstream>

#include "core/run_main.h"
#include "modes/forward/forwarder.h"

namespace elk::forward {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

// Each event gets as long as Lambda's longest timeout would.
constexpr auto replay_deadline = 15min;

std::string region_of_arn(std::string_view arn) {
  // arn:aws:lambda:<region>:<account>:function:<name>
  std::size_t at = 0;
  for (int colon = 0; colon < 3; ++colon) {
    at = arn.find(':', at);
    if (at == std::string_view::npos) return {};
    ++at;
  }
  const auto end = arn.find(':', at);
  return end == std::string_view::npos ? std::string() : std::string(arn.substr(at, end - at));
}

// An on-failure record, an SQS message carrying one (Body), or `aws sqs receive-message` output (Messages[]).
void collect(const json::value& v, const std::string& where, std::vector<ReplayInput>& out,
             std::vector<std::string>& skipped) {
  if (const auto* a = v.if_array()) {
    for (std::size_t i = 0; i < a->size(); ++i) collect((*a)[i], where + "[" + std::to_string(i) + "]", out, skipped);
    return;
  }
  const auto* o = v.if_object();
  if (o == nullptr) {
    skipped.push_back(where + ": not a JSON object");
    return;
  }
  if (const auto* messages = o->if_contains("Messages")) return collect(*messages, where + ".Messages", out, skipped);
  if (const auto* body = o->if_contains("Body"); body != nullptr && body->is_string()) {
    boost::system::error_code ec;
    const auto inner = json::parse(body->get_string(), ec);
    if (ec) {
      skipped.push_back(where + ": its Body is not JSON");
      return;
    }
    return collect(inner, where + ".Body", out, skipped);
  }
  const auto* payload = o->if_contains("requestPayload");
  if (payload == nullptr || !payload->is_object()) {
    skipped.push_back(where + ": no requestPayload (not an on-failure record)");
    return;
  }
  std::string region;
  if (const auto* context = o->if_contains("requestContext"); context != nullptr && context->is_object())
    if (const auto* arn = context->get_object().if_contains("functionArn"); arn != nullptr && arn->is_string())
      region = region_of_arn(arn->get_string());
  out.push_back(ReplayInput{where, std::move(region), json::serialize(*payload)});
}

}  // namespace

Result<std::vector<ReplayInput>> read_on_failure_records(const std::string& path, std::vector<std::string>& skipped) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(path + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<ReplayInput> out;
  boost::system::error_code ec;
  const auto whole = json::parse(text, ec);
  if (!ec) {
    collect(whole, path, out, skipped);
    return out;
  }
  // One record per line.
  std::istringstream lines(text);
  std::size_t number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto v = json::parse(line, ec);
    const std::string where = path + ":" + std::to_string(number);
    if (ec)
      skipped.push_back(where + ": not JSON (" + ec.message() + ")");
    else
      collect(v, where, out, skipped);
  }
  return out;
}

int replay(const std::vector<std::string>& files, const Getenv& environment, const Logger& log) {
  if (files.empty()) {
    log.error("replay: name the files of on-failure records to replay (elk-extension replay FILE...)");
    return 2;
  }
  std::vector<ReplayInput> inputs;
  for (const auto& f : files) {
    std::vector<std::string> skipped;
    auto read = read_on_failure_records(f, skipped);
    if (!read) {
      log.error("replay: " + read.error().message);
      return 2;
    }
    for (const auto& s : skipped) log.warn("replay: skipped " + s);
    std::move(read->begin(), read->end(), std::back_inserter(inputs));
  }
  auto run = [&]() -> asio::awaitable<int> {
    int exit_code = 0;
    auto made = make_pipeline(environment, log, co_await asio::this_coro::executor);
    if (!made) {
      log.error("replay: " + made.error().message);
      co_return 2;
    }
    const std::string own_region = region_of(environment);
    std::size_t delivered = 0;
    for (const auto& input : inputs) {
      Forwarder forwarder(**made, input.region.empty() ? own_region : input.region, log);
      const auto answer = co_await forwarder.handle(input.event, std::chrono::steady_clock::now() + replay_deadline);
      if (answer.ok && answer.body.find("\"itemIdentifier\"") == std::string::npos) {
        ++delivered;
        log.info("replay: " + input.source + ": delivered " + answer.body);
      } else {
        exit_code = 1;
        log.error(
            "replay: " + input.source + ": " +
            (answer.ok ? "not every record delivered " + answer.body : answer.error_type + ": " + answer.message));
      }
    }
    log.info("replay: " + std::to_string(delivered) + " of " + std::to_string(inputs.size()) + " events delivered" +
             (*made)->summary());
    co_return exit_code;
  };
  asio::io_context io(1);
  return run_main(io, run(), log);
}

}  // namespace elk::forward
