#include "destinations/registry.h"

#include "destinations/file.h"
#include "destinations/s3.h"

namespace elk::destinations {

std::span<const DestinationType> destination_types() {
  static const DestinationType types[] = {file_destination(), s3_destination()};
  return types;
}

std::vector<config::Setting> all_settings() {
  const auto general = config::general_settings();
  std::vector<config::Setting> rows(general.begin(), general.end());
  for (const auto& t : destination_types()) rows.insert(rows.end(), t.settings.begin(), t.settings.end());
  return rows;
}

Result<std::vector<std::unique_ptr<Destination>>> make_destinations(const Context& context) {
  std::vector<std::unique_ptr<Destination>> out;
  for (const auto& name : context.config.list(config::names::destinations)) {
    const DestinationType* type = nullptr;
    for (const auto& t : destination_types())
      if (t.name == name) type = &t;
    if (type == nullptr) return fail("EXTENSION_LOG_DESTINATIONS names an unknown destination '" + name + "'");
    auto made = type->make(context);
    if (!made) return std::unexpected(made.error());
    out.push_back(std::move(*made));
  }
  return out;
}

}  // namespace elk::destinations
