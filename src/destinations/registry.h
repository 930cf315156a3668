// The one explicit list of destination kinds, and the whole settings table (general + destinations').
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "destinations/destination.h"

namespace elk::destinations {

[[nodiscard]] std::span<const DestinationType> destination_types();

// Every setting: the general rows, then each destination's.
[[nodiscard]] std::vector<config::Setting> all_settings();

// Builds the destinations named in EXTENSION_LOG_DESTINATIONS.
[[nodiscard]] Result<std::vector<std::unique_ptr<Destination>>> make_destinations(const Context& context);

}  // namespace elk::destinations
