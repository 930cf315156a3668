// Helpers shared by the unit tests.
#pragma once

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace elk::test {

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string telemetry_sample(const std::string& name) {
  return read_file(std::filesystem::path(ELK_TEST_DATA) / "telemetry" / name);
}

// Runs a coroutine to completion on its own io_context and returns its result.
template <class T>
T run_sync(boost::asio::io_context& io, boost::asio::awaitable<T> aw) {
  auto fut = boost::asio::co_spawn(io, std::move(aw), boost::asio::use_future);
  io.restart();
  while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
  return fut.get();
}

// A fresh empty directory under the system temp dir, removed at scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("elk-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

}  // namespace elk::test
