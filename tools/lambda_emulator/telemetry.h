// The platform's events and their delivery: every event the environment generates, each subscriber's view
// of them, and Lambda's buffering (timeoutMs / maxBytes / maxItems) and retries when pushing them to the
// subscriber's listener. One delivery coroutine per subscriber.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/types.h"
#include "extension.h"
#include "script.h"
#include "support.h"

namespace elk::emulator {

// One event as one subscriber gets it, and whether Lambda saw it acknowledged.
struct Item {
  std::string text;    // the serialized envelope {time,type,record}; its size counts against maxBytes
  std::size_t global;  // index in Telemetry's events
  Clock::time_point queued;
  std::optional<EpochMs> acked_at;
};

struct Subscriber {
  std::string extension;
  Subscription sub;
  std::vector<Item> items;         // every event in this subscriber's view, in order
  std::size_t sent = 0;            // items[0, sent) are delivered or in flight
  std::size_t buffered_bytes = 0;  // of items[sent, end)
};

// The subscriber's item of event `global`, if it got that event (items are in the order of the events).
[[nodiscard]] const Item* find_item(const Subscriber& s, std::size_t global);

class Telemetry {
 public:
  // Starts a coroutine that must not outlive the run (an exception in it ends the run).
  using Spawn = std::function<void(asio::awaitable<void>)>;

  // `extensions` tells when no subscription can come any more; `damaged_lines` is FunctionSetup's.
  Telemetry(Broadcast& wake, const Log& log, const std::vector<Extension>& extensions, bool damaged_lines, Spawn spawn)
      : wake_(wake), log_(log), extensions_(extensions), damaged_lines_(damaged_lines), spawn_(std::move(spawn)) {}

  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  // Records an event, offers it to every subscriber and notifies. Returns its index.
  std::size_t emit(std::string type, boost::json::value record);

  // Subscribes `extension`. A first subscription (`existing` null) receives every event since the environment
  // started and gets its delivery coroutine; subscribing again replaces `existing`'s settings, and what is
  // delivered or in flight stays as it was. Returns the subscriber, which lives as long as this.
  Subscriber& subscribe(Subscriber* existing, std::string extension, Subscription sub);

  // The environment is gone: deliveries stop, whatever is buffered or in flight is not delivered.
  void stop();

  [[nodiscard]] const std::vector<std::unique_ptr<Subscriber>>& subscribers() const { return subscribers_; }

 private:
  void offer(Subscriber& s, std::size_t g);
  asio::awaitable<void> deliver(Subscriber& s);

  Broadcast& wake_;
  const Log& log_;
  const std::vector<Extension>& extensions_;
  bool damaged_lines_;
  Spawn spawn_;
  std::vector<std::unique_ptr<Subscriber>> subscribers_;
  std::vector<Event> events_;  // everything the platform generated, in order
  bool stopping_ = false;
};

}  // namespace elk::emulator
