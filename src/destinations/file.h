// `file`: NDJSON documents into a directory, one file per flush, written atomically.
#pragma once

#include "destinations/destination.h"

namespace elk::destinations {

[[nodiscard]] const DestinationType& file_destination();

}  // namespace elk::destinations
