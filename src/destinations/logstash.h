// `logstash`: json_lines to a Logstash `http` input (application/x-ndjson) or `tcp` input (plain or TLS).
#pragma once

#include "destinations/destination.h"

namespace elk::destinations {

[[nodiscard]] const DestinationType& logstash_destination();

}  // namespace elk::destinations
