#include "sources/telemetry/subscription.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace elk::telemetry {

SubscriptionRequest subscription_request(Api api, const std::vector<std::string>& types, const Buffering& buffering,
                                         std::uint16_t port) {
  boost::json::array type_list;
  for (const auto& t : types) type_list.emplace_back(t);
  boost::json::object body{
      {"schemaVersion", api == Api::telemetry ? "2022-12-13" : "2021-03-18"},
      {"types", std::move(type_list)},
      {"buffering",
       {{"maxItems", buffering.max_items}, {"maxBytes", buffering.max_bytes}, {"timeoutMs", buffering.timeout_ms}}},
      {"destination", {{"protocol", "HTTP"}, {"URI", "http://sandbox.localdomain:" + std::to_string(port) + "/"}}},
  };
  if (api == Api::logs) {
    body["destination"].as_object()["method"] = "POST";
    body["destination"].as_object()["encoding"] = "JSON";
  }
  return {api == Api::telemetry ? "/2022-07-01/telemetry" : "/2020-08-15/logs", boost::json::serialize(body)};
}

}  // namespace elk::telemetry
