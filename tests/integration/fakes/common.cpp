#include "fakes/common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <zlib.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <set>

#include "core/gzip.h"

namespace elk::fakes {

std::optional<std::string_view> RecordedRequest::header(std::string_view name) const {
  for (const auto& h : headers)
    if (http::iequals(h.name, name)) return std::string_view(h.value);
  return std::nullopt;
}

// --- IoThread ---------------------------------------------------------------------------------------------------

void IoThread::start() {
  thread_ = std::thread([this] {
    auto guard = boost::asio::make_work_guard(io_);
    io_.run();
  });
}

void IoThread::run_on_io(const std::function<void()>& f) {
  if (!thread_.joinable() || std::this_thread::get_id() == thread_.get_id()) {
    f();
    return;
  }
  std::promise<void> done;
  auto finished = done.get_future();
  boost::asio::post(io_, [&] {
    f();
    done.set_value();
  });
  finished.wait();
}

void IoThread::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

// --- FaultableServer -------------------------------------------------------------------------------------------

namespace {

constexpr auto kRefusalPollEvery = std::chrono::milliseconds(2);

// Calls f(fd, connected) for every TCP socket of this process whose local port is `port`: the listening socket of
// a server on that port, and the connections it accepted. http::Server keeps its sockets to itself, hence the
// look through /proc/self/fd.
void for_each_socket_on(std::uint16_t port, const std::function<void(int fd, bool connected)>& f) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const std::string name = entry.path().filename().string();
    int fd = -1;
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc{}) continue;
    sockaddr_in local{}, peer{};
    socklen_t local_size = sizeof local, peer_size = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) != 0 || local.sin_family != AF_INET ||
        ntohs(local.sin_port) != port)
      continue;
    f(fd, ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_size) == 0);
  }
}

}  // namespace

struct FaultableServer::State {
  State(boost::asio::io_context& io_context, http::ServerOptions o, http::Handler h)
      : io(io_context), options(std::move(o)), handler(std::move(h)) {}

  Status listen() {
    auto started = http::Server::start(io, options, handler);
    if (!started) return std::unexpected(started.error());
    server = std::move(*started);
    // Asio opens sockets without SOCK_CLOEXEC: a process the test starts (the emulator, its extensions) would
    // keep the listening socket open, so that it went on accepting (into its backlog) while this one refuses.
    for_each_socket_on(server->port(), [](int fd, bool connected) {
      if (!connected) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    });
    return {};
  }

  // On the io thread while a refusal predicate is set, and until the server listens again after it.
  static boost::asio::awaitable<void> poll(std::shared_ptr<State> self) {
    boost::asio::steady_timer timer(self->io);
    bool reported = false;
    for (;;) {
      std::function<bool()> refuse;
      {
        std::lock_guard lock(self->mu);
        refuse = self->refuse_predicate;
      }
      const bool down = refuse && refuse();
      if (self->closed) break;
      if (down && self->server) {
        self->server.reset();  // closes the listening socket
        // Stop reading what it accepted: a waiting read ends (EOF), an answer being written still goes out.
        for_each_socket_on(self->options.port, [](int fd, bool connected) {
          if (connected) ::shutdown(fd, SHUT_RD);
        });
      } else if (!down && !self->server) {
        if (auto st = self->listen(); !st && !reported) {
          std::fprintf(stderr, "[fake] %s; trying again every 2 ms\n", st.error().message.c_str());
          reported = true;
        }
      }
      if (!refuse && self->server) break;
      timer.expires_after(kRefusalPollEvery);
      co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    self->polling = false;
  }

  boost::asio::io_context& io;
  http::ServerOptions options;  // its port is set once, before the io thread runs
  http::Handler handler;
  // On the io thread only.
  std::unique_ptr<http::Server> server;  // null while connections are refused
  bool polling = false;
  bool closed = false;  // the FaultableServer is gone
  // Set from any thread.
  mutable std::mutex mu;
  std::function<bool()> fail_predicate;
  HttpFault fail_fault;
  std::function<bool()> refuse_predicate;
};

FaultableServer::FaultableServer(std::shared_ptr<State> state) : state_(std::move(state)) {}

Result<std::unique_ptr<FaultableServer>> FaultableServer::start(boost::asio::io_context& io,
                                                                http::ServerOptions options, http::Handler handler) {
  auto state = std::make_shared<State>(io, std::move(options), std::move(handler));
  if (auto st = state->listen(); !st) return std::unexpected(st.error());
  state->options.port = state->server->port();  // listening again takes the same port
  return std::unique_ptr<FaultableServer>(new FaultableServer(std::move(state)));
}

FaultableServer::~FaultableServer() {
  state_->closed = true;
  state_->server.reset();
}

std::uint16_t FaultableServer::port() const {
  return state_->options.port;
}

void FaultableServer::fail_while(std::function<bool()> predicate, HttpFault fault) {
  std::lock_guard lock(state_->mu);
  state_->fail_predicate = std::move(predicate);
  state_->fail_fault = std::move(fault);
}

std::optional<HttpFault> FaultableServer::fault_now() const {
  std::function<bool()> predicate;
  HttpFault fault;
  {
    std::lock_guard lock(state_->mu);
    predicate = state_->fail_predicate;
    fault = state_->fail_fault;
  }
  if (predicate && predicate()) return fault;
  return std::nullopt;
}

void FaultableServer::refuse_connections_while(std::function<bool()> predicate) {
  {
    std::lock_guard lock(state_->mu);
    state_->refuse_predicate = std::move(predicate);
  }
  boost::asio::post(state_->io, [s = state_] {
    if (s->polling || s->closed) return;
    s->polling = true;
    boost::asio::co_spawn(s->io, State::poll(s), boost::asio::detached);
  });
}

void FaultableServer::clear_faults() {
  std::lock_guard lock(state_->mu);
  state_->fail_predicate = nullptr;
  state_->refuse_predicate = nullptr;
}

bool wait_for(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, std::chrono::milliseconds timeout,
              const std::function<bool()>& ready) {
  return cv.wait_for(lock, timeout, ready);
}

// --- compression ------------------------------------------------------------------------------------------------

std::string gzip_compress(std::string_view data) {
  return elk::gzip(data);
}

Result<std::string> inflate(std::string_view data, bool gzip, std::size_t max_bytes) {
  z_stream z{};
  if (inflateInit2(&z, gzip ? 15 + 16 : 15) != Z_OK) return fail("zlib: inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char chunk[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    rc = ::inflate(&z, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - z.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&z);
      return fail("the decoded body exceeds " + std::to_string(max_bytes) + " bytes");
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // truncated input
  }
  const bool complete = rc == Z_STREAM_END;
  const std::string why = z.msg ? z.msg : "truncated stream";
  inflateEnd(&z);
  if (!complete) return fail(std::string(gzip ? "gzip" : "deflate") + " body is corrupt: " + why);
  return out;
}

Result<std::string> decode_content(std::optional<std::string_view> content_encoding, std::string_view body,
                                   std::size_t max_bytes) {
  const std::string enc = content_encoding ? to_lower(trim(*content_encoding)) : "";
  if (enc.empty() || enc == "identity") {
    if (body.size() > max_bytes) return fail("the body exceeds " + std::to_string(max_bytes) + " bytes");
    return std::string(body);
  }
  if (enc == "gzip" || enc == "x-gzip") return inflate(body, true, max_bytes);
  if (enc == "deflate" || enc == "x-deflate") return inflate(body, false, max_bytes);
  return fail("unsupported Content-Encoding [" + enc + "]");
}

// --- base64, percent-encoding ----------------------------------------------------------------------------------

namespace {
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> decode_component(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (s[i] != '%') {
      out += s[i];
    } else {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return out;
}
}  // namespace

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8) |
                       static_cast<unsigned char>(data[i + 2]);
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += kBase64[v & 63];
  }
  if (i + 1 == data.size()) {
    const unsigned v = static_cast<unsigned char>(data[i]) << 16;
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    const unsigned v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8);
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[j] = base64_value(c);
      if (v[j] < 0) return std::nullopt;
    }
    const unsigned n = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                       (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view s) {
  return decode_component(s, false);
}

std::optional<SplitTarget> split_target(std::string_view target) {
  SplitTarget out;
  const auto q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (q == std::string_view::npos) return out;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto name = decode_component(pair.substr(0, eq), true);
    auto value = decode_component(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!name || !value) return std::nullopt;
    out.query.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match with backtracking to the last '*'.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string media_type(std::string_view content_type) {
  return to_lower(trim(content_type.substr(0, content_type.find(';'))));
}

std::vector<std::pair<std::string, std::string>> media_type_params(std::string_view content_type) {
  std::vector<std::pair<std::string, std::string>> out;
  auto semi = content_type.find(';');
  while (semi != std::string_view::npos) {
    content_type = content_type.substr(semi + 1);
    semi = content_type.find(';');
    const std::string_view param = trim(content_type.substr(0, semi));
    if (param.empty()) continue;
    const auto eq = param.find('=');
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : trim(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    out.emplace_back(to_lower(trim(param.substr(0, eq))), std::string(value));
  }
  return out;
}

// --- UTF-8, JSON ------------------------------------------------------------------------------------------------

std::string repair_utf8(std::string_view text) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len > 0 && i + len <= text.size();
    for (std::size_t j = 1; ok && j < len; ++j) {
      const auto cc = static_cast<unsigned char>(text[i + j]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok && len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (ok && len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ok = false;
    if (!ok) {
      out += kReplacement;
      ++i;
      continue;
    }
    out.append(text.substr(i, len));
    i += len;
  }
  return out;
}

std::optional<std::string> find_duplicate_key(std::string_view json) {
  struct Frame {
    bool object = false;
    bool expect_key = false;
    std::set<std::string> keys;
  };
  std::vector<Frame> stack;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '"') {
      const std::size_t start = ++i;
      while (i < json.size() && json[i] != '"') i += json[i] == '\\' ? 2 : 1;
      if (!stack.empty() && stack.back().object && stack.back().expect_key) {
        std::string key(json.substr(start, i - start));
        if (!stack.back().keys.insert(key).second) return key;
        stack.back().expect_key = false;
      }
    } else if (c == '{') {
      stack.push_back({true, true, {}});
    } else if (c == '[') {
      stack.push_back({false, false, {}});
    } else if (c == '}' || c == ']') {
      if (!stack.empty()) stack.pop_back();
    } else if (c == ',') {
      if (!stack.empty() && stack.back().object) stack.back().expect_key = true;
    }
  }
  return std::nullopt;
}

bool is_strict_date_optional_time(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&](std::size_t n, int lo, int hi) {
    if (i + n > s.size()) return false;
    int v = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const char c = s[i + j];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    i += n;
    return v >= lo && v <= hi;
  };
  auto take = [&](char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  if (!digits(4, 0, 9999) || !take('-') || !digits(2, 1, 12) || !take('-') || !digits(2, 1, 31)) return false;
  if (i == s.size()) return true;
  if (!take('T') || !digits(2, 0, 23)) return false;
  if (take(':')) {
    if (!digits(2, 0, 59)) return false;
    if (take(':')) {
      if (!digits(2, 0, 60)) return false;
      if (take('.') || take(',')) {
        std::size_t n = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9' && n < 9) ++i, ++n;
        if (n == 0) return false;
      }
    }
  }
  if (i == s.size()) return true;
  if (take('Z')) return i == s.size();
  if (!take('+') && !take('-')) return false;
  if (!digits(2, 0, 18)) return false;
  if (i == s.size()) return true;
  take(':');
  return digits(2, 0, 59) && i == s.size();
}

}  // namespace elk::fakes
