// A mode's main coroutine run to its end on a single-thread io_context: its exit code, or 1 after logging the
// exception that ended it. Every mode (extension, forwarder, replay) ends this way.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <string>

#include "core/log.h"

namespace elk {

inline int run_main(boost::asio::io_context& io, boost::asio::awaitable<int> main, const Logger& log) {
  int exit_code = 1;
  boost::asio::co_spawn(io, std::move(main), [&](const std::exception_ptr& e, int code) {
    exit_code = code;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log.error(std::string("fatal: ") + ex.what());
      }
      exit_code = 1;
    }
    io.stop();
  });
  io.run();
  return exit_code;
}

}  // namespace elk
