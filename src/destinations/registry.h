// The one explicit list of destination kinds, and the whole settings table (general + destinations').
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "destinations/destination.h"

namespace elk::destinations {

[[nodiscard]] std::span<const DestinationType> destination_types();

// Other names of destinations (opensearch = elasticsearch).
[[nodiscard]] std::span<const config::Alias> destination_aliases();

// Every setting: the general rows, then each destination's.
[[nodiscard]] std::vector<config::Setting> all_settings();

// Every setting read from `environment` and validated (warnings logged); an error lists every bad one,
// "invalid configuration: ...; ...".
[[nodiscard]] Result<config::Config> load_settings(const Getenv& environment, const Logger& log);

// The destinations named in EXTENSION_LOG_DESTINATIONS, then the dead-letter destinations they name.
struct Lineup {
  std::vector<std::unique_ptr<Destination>> destinations;
  std::vector<std::optional<std::size_t>> dead_letter;  // per destination: the index of the one taking its rejects
  std::size_t regular = 0;  // the first `regular` destinations receive every batch; the rest only rejects
};

[[nodiscard]] Result<Lineup> make_destinations(const Context& context);

}  // namespace elk::destinations
