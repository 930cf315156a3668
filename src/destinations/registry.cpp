#include "destinations/registry.h"

#include <cstdio>

#include "aws/sigv4.h"
#include "core/types.h"
#include "destinations/elasticsearch.h"
#include "destinations/file.h"
#include "destinations/logstash.h"
#include "destinations/s3.h"

namespace elk::destinations {

std::span<const DestinationType> destination_types() {
  static const DestinationType types[] = {s3_destination(), elasticsearch_destination(), logstash_destination(),
                                          file_destination()};
  return types;
}

std::span<const config::Alias> destination_aliases() {
  static constexpr config::Alias aliases[] = {{"opensearch", "elasticsearch"}};
  return aliases;
}

std::vector<config::Setting> all_settings() {
  const auto general = config::general_settings();
  std::vector<config::Setting> rows(general.begin(), general.end());
  for (const auto& t : destination_types()) rows.insert(rows.end(), t.settings.begin(), t.settings.end());
  return rows;
}

namespace {

Result<std::unique_ptr<Destination>> make_one(const std::string& name, const Context& context) {
  for (const auto& t : destination_types())
    if (t.name == name) return t.make(context);
  return fail("EXTENSION_LOG_DESTINATIONS names an unknown destination '" + name + "'");
}

}  // namespace

std::string batch_unique(const pipeline::Document& first, const pipeline::Document& last, bool dead_letter) {
  if (!first.id.empty())  // the source's stable ids: the same objects when the source hands the records again
    return aws::sha256_hex(first.id + '\n' + last.id).substr(0, 26) + (dead_letter ? "-rejected" : "");
  char seq[24];
  std::snprintf(seq, sizeof seq, "%010llu", static_cast<unsigned long long>(first.sequence));
  return hex64(first.origin) + "-" + seq + (dead_letter ? "-rejected" : "");
}

Result<Lineup> make_destinations(const Context& context) {
  Lineup out;
  for (const auto& name : context.config.list(config::names::destinations)) {
    auto made = make_one(name, context);
    if (!made) return std::unexpected(made.error());
    out.destinations.push_back(std::move(*made));
  }
  out.regular = out.destinations.size();
  out.dead_letter.assign(out.regular, std::nullopt);
  // A dead-letter destination is its own instance, receiving only the rejects of the one naming it.
  for (std::size_t i = 0; i < out.regular; ++i) {
    const auto dl = out.destinations[i]->dead_letter();
    if (dl.empty()) continue;
    Context dead_letter_context = context;
    dead_letter_context.dead_letter = true;
    auto made = make_one(dl, dead_letter_context);
    if (!made)
      return fail("the dead-letter destination '" + dl + "' of " + std::string(out.destinations[i]->name()) +
                  " cannot be set up: " + made.error().message);
    out.dead_letter[i] = out.destinations.size();
    out.destinations.push_back(std::move(*made));
    out.dead_letter.emplace_back();
  }
  return out;
}

Result<config::Config> load_settings(const Getenv& environment, const Logger& log) {
  auto loaded = config::load(all_settings(), environment, destination_aliases());
  for (const auto& w : loaded.warnings) log.warn(w);
  if (loaded.errors.empty()) return std::move(loaded.config);
  std::string message = "invalid configuration: ";
  for (std::size_t i = 0; i < loaded.errors.size(); ++i) message += (i ? "; " : "") + loaded.errors[i];
  return fail(message);
}

}  // namespace elk::destinations
