// Shared pieces of the fake servers (test code only): the I/O thread each fake runs on, what a fake records
// of a request, whole-request faults, the HTTP server with the faults every HTTP fake offers, and small codecs
// (gzip, base64, percent-decoding, UTF-8 repair, strict JSON checks). Only our http/server.h is used for HTTP:
// no Beast here.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.h"
#include "http/message.h"
#include "http/server.h"

namespace elk::fakes {

// One request as a fake received it, and what the fake answered.
struct RecordedRequest {
  std::string method;
  std::string target;  // as received, with the query: "/logs/_bulk?refresh=false"
  std::vector<http::Header> headers;
  std::string raw_body;  // as received (gzip'd when sent with Content-Encoding: gzip)
  std::string body;      // decoded (gunzipped); equal to raw_body without Content-Encoding
  int status = 0;        // the status the fake answered
  std::string response_body;
  std::string refusal;  // why the fake refused the request, in words ("" when it did not): for test messages

  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

// A whole request answered with `status` instead of being processed. Without a body, each fake answers the
// body its real counterpart sends for that status.
struct HttpFault {
  int status = 503;
  std::optional<std::string> body;
  std::vector<http::Header> headers;  // extra headers, e.g. {"Retry-After", "1"}
};

// An io_context on its own thread. Start it once the servers are set up on io(); stop() (or the destructor)
// stops the loop and joins the thread.
class IoThread {
 public:
  IoThread() = default;
  ~IoThread() { stop(); }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  [[nodiscard]] boost::asio::io_context& io() { return io_; }
  void start();
  // Runs `f` on the I/O thread and waits for it; runs it here when the thread is not running.
  void run_on_io(const std::function<void()>& f);
  void stop();

 private:
  boost::asio::io_context io_;
  std::thread thread_;
};

// A fake's HTTP server on 127.0.0.1, with the faults every HTTP fake offers, each switched by a predicate the test
// owns (e.g. "this file exists", so that a command the emulator runs between invocations can flip it):
//  - fail_while: while the predicate holds, the fake answers every request it would process with the fault
//    (the fake asks fault_now() where it checks its other whole-request faults).
//  - refuse_connections_while: while the predicate holds, the listening socket is closed, so that connections
//    are refused (ECONNREFUSED), and every connection already accepted stops reading: an exchange in progress
//    is still answered, then the connection closes, so that a client's pooled keep-alive connection does not
//    outlive the outage (a server that goes down drops its connections). The predicate is polled every 2 ms
//    on the io thread; when it turns false the server listens again on the same port (SO_REUSEADDR). The
//    listening socket is FD_CLOEXEC, so that a process the test starts cannot keep it open (and accepting).
// Predicates are called on the io thread, under no lock of the fake. The fault setters are thread-safe; the
// rest runs on the io thread (destroy the server there, as the fakes' destructors do).
class FaultableServer {
 public:
  // Listens on options.address and options.port (0: a free port); the error names the address and port.
  [[nodiscard]] static Result<std::unique_ptr<FaultableServer>> start(boost::asio::io_context& io,
                                                                      http::ServerOptions options,
                                                                      http::Handler handler);
  ~FaultableServer();
  FaultableServer(const FaultableServer&) = delete;
  FaultableServer& operator=(const FaultableServer&) = delete;

  [[nodiscard]] std::uint16_t port() const;

  void fail_while(std::function<bool()> predicate, HttpFault fault);
  // fail_while's fault, when its predicate holds now.
  [[nodiscard]] std::optional<HttpFault> fault_now() const;
  void refuse_connections_while(std::function<bool()> predicate);
  // Clears both; a closed listening socket opens again at the next poll.
  void clear_faults();

 private:
  struct State;
  explicit FaultableServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;  // shared with the poll coroutine
};

// Waits until `ready()` holds (checked under `lock`), or `timeout` passes; returns ready().
bool wait_for(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, std::chrono::milliseconds timeout,
              const std::function<bool()>& ready);

// --- codecs -----------------------------------------------------------------------------------------------------

// gzip (RFC 1952) of `data`, for tests that send compressed bodies.
[[nodiscard]] std::string gzip_compress(std::string_view data);
// Inflates a gzip ("gzip", "x-gzip") or zlib ("deflate") stream; fails on a corrupt or truncated stream or when
// the result would exceed `max_bytes`.
[[nodiscard]] Result<std::string> inflate(std::string_view data, bool gzip, std::size_t max_bytes);
// Decodes a body by its Content-Encoding ("" or "identity": as it is). The error says what was wrong.
[[nodiscard]] Result<std::string> decode_content(std::optional<std::string_view> content_encoding,
                                                 std::string_view body, std::size_t max_bytes);

[[nodiscard]] std::string base64_encode(std::string_view data);
// Strict standard base64 (padding required); nullopt when malformed.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

// "%2F" -> "/" ('+' stays '+'); nullopt on a malformed escape.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view s);

struct SplitTarget {
  std::string path;                                        // still percent-encoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded names and values, in order
};
// Splits "/a/b?x=1&y" into the path and the query parameters ("y" has the value "").
[[nodiscard]] std::optional<SplitTarget> split_target(std::string_view target);

// '*' matches any run of characters (also none); everything else matches itself.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text);

// The media type of a Content-Type value, lower-case, without parameters: "application/x-ndjson".
[[nodiscard]] std::string media_type(std::string_view content_type);
// The parameters of a Content-Type value: names lower-case, values unquoted.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> media_type_params(std::string_view content_type);

[[nodiscard]] std::string to_lower(std::string_view s);
[[nodiscard]] std::string_view trim(std::string_view s);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD, as Java's decoder does.
[[nodiscard]] std::string repair_utf8(std::string_view text);

// For valid JSON text: the first object key that appears twice in the same object (as written, escapes kept),
// or nullopt. Elasticsearch parses with Jackson's STRICT_DUPLICATE_DETECTION, so such documents fail there.
[[nodiscard]] std::optional<std::string> find_duplicate_key(std::string_view json);

// Whether `s` is a date in Elasticsearch's strict_date_optional_time format ("2024-05-02",
// "2024-05-02T10:15:30.520Z", "2024-05-02T10:15:30+02:00", ...).
[[nodiscard]] bool is_strict_date_optional_time(std::string_view s);

}  // namespace elk::fakes
