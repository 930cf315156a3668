// Strict fake Logstash inputs for the integration tests (PROTOCOLS.md §7), each on its own thread on 127.0.0.1
// (ephemeral port) from construction to destruction; every method is thread-safe and accessors return copies.
//
// FakeLogstashHttp: the `http` input (logstash-input-http 3.x/4.x, Netty) configured with
//   additional_codecs => {"application/json" => "json", "application/x-ndjson" => "json_lines"}
// as the plugin does it:
//  - Any method, any path. The codec is chosen by the Content-Type's media type, parameters stripped but case
//    kept (Netty's HttpUtil.getMimeType, then an exact hash lookup): "application/x-ndjson" -> json_lines (each
//    line one event; the codec's flush also decodes a last line without '\n'), "application/json" -> json (a
//    root array gives one event per element), anything else -> plain (one event, the whole body as "message").
//  - json/json_lines decoding as LogStash::Event.from_json: an object is one event; an array of objects one event
//    each; an empty or blank text (line) no event; anything else (bad JSON, a scalar, an array holding a
//    non-object) one event {"message": <the raw text>, "tags": ["_jsonparsefailure"]}.
//  - An event's "@timestamp" must be an ISO 8601 string, else Logstash moves it to "_@timestamp" and tags the event
//    "_timestampparsefailure"; the fake does the same. Logstash also adds @version, @timestamp (when absent), host
//    and headers; the fake stores events as sent, without those.
//  - The body is decoded as UTF-8 with invalid sequences replaced by U+FFFD (Java's decoder); Content-Encoding
//    gzip/deflate is inflated (Netty's HttpContentDecompressor); a corrupt one is a 400 text/plain.
//  - Basic auth (when user and password are set) compares the whole header with "Basic base64(user:password)":
//    missing -> 401 with WWW-Authenticate: Basic realm="Logstash HTTP Input"; different -> 401 without it.
//    Both with empty bodies, as the plugin answers; so is 429 (busy / queue full).
//  - 200 (or response_code) with "ok", text/plain.
//
// FakeLogstashTcp: the `tcp` input with codec json_lines: every '\n'-terminated line of a connection is decoded as
// above (blank lines give no event). A last line without '\n' when the peer closes is recorded in partial_lines()
// and is NOT an event: the real input would flush it through the codec (a complete object would become an event,
// a cut one a _jsonparsefailure) — the fake flags it instead, since a sender must terminate every line.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fakes/common.h"

namespace elk::fakes {

struct LogstashHttpOptions {
  std::string user;  // both set: basic auth required
  std::string password;
  bool json_codec = true;                              // "application/json" => "json"
  bool json_lines_codec = true;                        // "application/x-ndjson" => "json_lines"
  std::size_t max_content_length = 100 * 1024 * 1024;  // -> 413 (raw and inflated)
  int response_code = 200;                             // 200, 201, 202 or 204 (no body)
};

class FakeLogstashHttp {
 public:
  explicit FakeLogstashHttp(LogstashHttpOptions options = {});
  ~FakeLogstashHttp();
  FakeLogstashHttp(const FakeLogstashHttp&) = delete;
  FakeLogstashHttp& operator=(const FakeLogstashHttp&) = delete;

  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] std::string url() const;  // "http://127.0.0.1:<port>"

  // The next `n` requests are answered with `fault` (before auth; nothing stored). Without a body the answer is
  // empty, as Logstash's 429 (and a proxy's 503 here) is.
  void fail_next_requests(int n, HttpFault fault);
  // While predicate() holds, every request is answered with `fault` as above; asked per request, before
  // fail_next_requests' count. See FaultableServer (common.h).
  void fail_while(std::function<bool()> predicate, HttpFault fault);
  // While predicate() holds, connections are refused (ECONNREFUSED) and those already open are closed after
  // their exchange in progress; then the fake listens again on the same port. See FaultableServer (common.h).
  void refuse_connections_while(std::function<bool()> predicate);
  // Requests are processed (events stored) and answered after `delay`; zero turns it off.
  void set_response_delay(std::chrono::milliseconds delay);
  void clear_faults();

  [[nodiscard]] std::vector<RecordedRequest> requests() const;
  [[nodiscard]] std::vector<boost::json::object> events() const;  // in order of arrival
  [[nodiscard]] std::size_t event_count() const;
  // The raw text of every event tagged _jsonparsefailure.
  [[nodiscard]] std::vector<std::string> parse_failures() const;
  // The codec used for each accepted request ("json", "json_lines" or "plain"), in order.
  [[nodiscard]] std::vector<std::string> codecs() const;
  [[nodiscard]] std::size_t refused_by_server() const;  // 413s our HTTP server answered itself

  [[nodiscard]] bool wait_for_events(std::size_t n, std::chrono::milliseconds timeout) const;
  [[nodiscard]] bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;
  void clear();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class FakeLogstashTcp {
 public:
  FakeLogstashTcp();
  ~FakeLogstashTcp();
  FakeLogstashTcp(const FakeLogstashTcp&) = delete;
  FakeLogstashTcp& operator=(const FakeLogstashTcp&) = delete;

  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] std::string host_port() const;  // "127.0.0.1:<port>"

  // Fault: after `k` more complete lines are read, the connection that read the k-th is reset by the fake (what
  // it had buffered beyond is discarded: lost, as with a real crash). With `every_connection`, each connection is
  // closed after its k-th line, until clear_faults().
  void close_after_lines(std::size_t k, bool every_connection = false);
  void clear_faults();

  [[nodiscard]] std::vector<boost::json::object> events() const;
  [[nodiscard]] std::size_t event_count() const;
  [[nodiscard]] std::vector<std::string> parse_failures() const;
  [[nodiscard]] std::vector<std::string> partial_lines() const;  // unterminated last lines at close
  [[nodiscard]] std::size_t connections() const;                 // accepted so far
  [[nodiscard]] std::size_t closed_by_fault() const;             // connections the fault closed
  [[nodiscard]] std::size_t discarded_bytes() const;             // read but dropped by a fault close

  [[nodiscard]] bool wait_for_events(std::size_t n, std::chrono::milliseconds timeout) const;
  // Until `n` connections have ended (closed by the peer or by a fault).
  [[nodiscard]] bool wait_for_closed_connections(std::size_t n, std::chrono::milliseconds timeout) const;
  void clear();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace elk::fakes
