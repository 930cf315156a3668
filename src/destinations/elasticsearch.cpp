#include "destinations/elasticsearch.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "core/base64.h"
#include "core/gzip.h"
#include "core/time.h"
#include "http/client.h"
#include "http/url.h"

namespace elk::destinations {
namespace {

using config::Kind;
using config::no_choices;
using config::OnInvalid;
namespace json = boost::json;

constexpr std::string_view url_setting = "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL";
constexpr std::string_view index_setting = "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_INDEX";
constexpr std::string_view pipeline_setting = "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_PIPELINE";
constexpr std::string_view auth_setting = "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_AUTH";
constexpr std::string_view username_setting = "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_USERNAME";
constexpr std::string_view password_setting = "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_PASSWORD";
constexpr std::string_view api_key_setting = "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_API_KEY";
constexpr std::string_view service_setting = "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_SIGV4_SERVICE";
constexpr std::string_view ca_file_setting = "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_CA_FILE";
constexpr std::string_view compression_setting = "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_COMPRESSION";
constexpr std::string_view max_bulk_setting = "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_MAX_BULK_BYTES";
constexpr std::string_view dead_letter_setting = "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_DEAD_LETTER";

// Elasticsearch's rules for an index or data stream name (MetadataCreateIndexService.validateIndexOrAliasName),
// checked on the name as written, with its %Y/%m/%d/%H as digits.
std::string check_index_name(std::string_view pattern) {
  const std::string name = elasticsearch::expand_index(pattern, EpochMs{0});
  for (std::size_t i = 0; i + 1 < pattern.size(); ++i) {
    if (pattern[i] != '%') continue;
    if (std::string_view("YmdH%").find(pattern[++i]) == std::string_view::npos)
      return "'%" + std::string(1, pattern[i]) + "' is not one of %Y, %m, %d, %H (or %% for '%')";
  }
  if (name == "." || name == "..") return "'.' and '..' are not index names";
  if (name.front() == '-' || name.front() == '_' || name.front() == '+')
    return "an index name cannot start with '-', '_' or '+'";
  for (const char ch : name) {
    if (ch >= 'A' && ch <= 'Z') return "an index name must be lower case";
    if (std::string_view("\\/*?\"<>| ,#:").find(ch) != std::string_view::npos)
      return std::string("an index name cannot contain '") + ch + "' (nor \\ / * ? \" < > | , # : or a space)";
  }
  if (name.size() > 255) return "an index name is at most 255 bytes";
  return "";
}

enum class Auth { none, basic, apikey, sigv4 };
constexpr config::Choice auth_modes[] = {
    {"none", Auth::none}, {"basic", Auth::basic}, {"apikey", Auth::apikey}, {"sigv4", Auth::sigv4}};
enum class Sigv4Service { es, aoss };
constexpr config::Choice sigv4_services[] = {{"es", Sigv4Service::es}, {"aoss", Sigv4Service::aoss}};
enum class Compression { gzip, none };
constexpr config::Choice compressions[] = {{"gzip", Compression::gzip}, {"none", Compression::none}};

// The service name SigV4 signs for.
std::string_view signing_name(Sigv4Service service) {
  return service == Sigv4Service::aoss ? "aoss" : "es";
}

constexpr config::Setting settings[] = {
    {url_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject,
     "https://host:port[/prefix] of the cluster; several, comma-separated, are tried in turn when one cannot be "
     "reached, does not answer, or hangs (each gets a share of the flush). Credentials go in AUTH and its settings: a "
     "URL with user:password@ is refused at init, and never "
     "printed.",
     "elasticsearch", true},
    {index_setting, Kind::text, "logs-aws.lambda-default", 0, 0, "", no_choices, OnInvalid::reject,
     "Data stream or index. A name with %Y, %m, %d or %H (from @timestamp, UTC), e.g. lambda-logs-%Y.%m.%d, is "
     "an index written with `index` ops; any other name takes `create` ops (all a data stream accepts). Checked "
     "at init against Elasticsearch's naming rules (lower case, no spaces, commas, slashes, quotes, ...).",
     "elasticsearch", false, false, &check_index_name},
    {pipeline_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject,
     "Ingest pipeline to run on the documents.", "elasticsearch"},
    {auth_setting, Kind::choice, "none", 0, 0, "", auth_modes, OnInvalid::reject,
     "basic (USERNAME, PASSWORD), apikey (API_KEY, sent as `Authorization: ApiKey ...`), or sigv4 for Amazon "
     "OpenSearch Service and Serverless (the function's role credentials).",
     "elasticsearch"},
    {username_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject, "User for basic authentication.",
     "elasticsearch"},
    {password_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject, "Password for basic authentication.",
     "elasticsearch"},
    {api_key_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject,
     "API key (the base64 `encoded` value Elasticsearch returns).", "elasticsearch"},
    {service_setting, Kind::choice, "es", 0, 0, "", sigv4_services, OnInvalid::reject,
     "SigV4 service: es for an Amazon OpenSearch Service domain, aoss for OpenSearch Serverless.", "elasticsearch"},
    {ca_file_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject,
     "PEM file of a private CA that signed the cluster's certificate (default: the system's CA bundle).",
     "elasticsearch"},
    {compression_setting, Kind::choice, "gzip", 0, 0, "", compressions, OnInvalid::reject,
     "Compress bulk requests (Content-Encoding: gzip).", "elasticsearch"},
    {max_bulk_setting, Kind::integer, "5242880", 65536, 104857600, "bytes", no_choices, OnInvalid::clamp,
     "Largest bulk request body (before compression); larger flushes are split.", "elasticsearch"},
    {dead_letter_setting, Kind::choice, "none", 0, 0, "", no_choices, OnInvalid::reject,
     "Where documents rejected for good (mapping errors) go, with that destination's settings.", "elasticsearch", false,
     true},
};

bool retryable_status(std::int64_t s) {
  return s == 429 || s >= 500;
}

class Elasticsearch final : public Destination {
 public:
  struct Options {
    std::vector<http::Url> urls;
    std::string index;
    bool dated_index = false;
    std::string pipeline;
    Auth auth = Auth::none;
    std::string authorization;  // the Authorization header value for basic/apikey
    aws::Credentials credentials;
    std::string region;
    Sigv4Service service = Sigv4Service::es;
    bool gzip = true;
    std::size_t max_bulk_bytes;
    std::string dead_letter;
    std::string function;
  };

  Elasticsearch(Options o, std::vector<std::unique_ptr<http::Client>> clients, const Logger& log)
      : o_(std::move(o)), clients_(std::move(clients)), log_(log) {}

  std::string_view name() const override { return "elasticsearch"; }
  std::size_t max_batch_bytes() const override { return o_.max_bulk_bytes; }
  std::string dead_letter() const override { return o_.dead_letter; }

  boost::asio::awaitable<SendResult> send(const buffer::Batch& batch, SteadyTime deadline) override {
    if (!checked_) co_await check_cluster(deadline);
    SendResult total = SendResult::ok();
    std::string too_large;  // the first document refused for its size alone
    std::size_t begin = 0;
    while (begin < batch.documents.size()) {
      const std::size_t limit = std::min(o_.max_bulk_bytes, accepted_bytes_);
      std::string body;
      std::vector<std::size_t> members;  // batch indexes in this request, in order
      for (std::size_t i = begin; i < batch.documents.size(); ++i) {
        const auto& d = batch.documents[i];
        const auto index = o_.dated_index ? elasticsearch::expand_index(o_.index, d.timestamp) : o_.index;
        std::string action =
            std::string(R"({")") + (o_.dated_index ? "index" : "create") + R"(":{"_index":")" + index + R"(","_id":")" +
            elasticsearch::document_id(d.function.empty() ? o_.function : d.function, hex64(d.origin), d) + "\"}}\n";
        if (!members.empty() && body.size() + action.size() + d.json.size() + 1 > limit) break;
        body += action;
        body += d.json;
        body += '\n';
        members.push_back(i);
      }
      const std::size_t body_bytes = body.size();
      auto [r, status] = co_await bulk(std::move(body), members, deadline);
      if (status == 413) {
        // Request Entity Too Large: a proxy's body limit (nginx: 1 MB by default) below ours. Smaller
        // requests from now on; a document that is too large alone is refused for good (dead letter).
        if (members.size() == 1) {
          total.rejected.push_back(members[0]);
          if (too_large.empty())
            too_large = r.message + ": a document of " + std::to_string(body_bytes) +
                        " bytes is larger than the cluster accepts";
          begin = members[0] + 1;
          continue;
        }
        accepted_bytes_ = std::max<std::size_t>(body_bytes / 2, 1);
        log_.warn("elasticsearch: " + r.message + " for a bulk of " + std::to_string(body_bytes) +
                  " bytes: sending at most " + std::to_string(accepted_bytes_) + " bytes per request from now on (" +
                  std::string(max_bulk_setting) + " is " + std::to_string(o_.max_bulk_bytes) + ")");
        continue;
      }
      if (r.kind == SendResult::Kind::retryable || r.kind == SendResult::Kind::permanent) {
        if (begin == 0 && total.failed.empty() && total.rejected.empty()) co_return r;
        // Earlier requests got through: retry (or drop) only what this and later requests held.
        total.kind = SendResult::Kind::partial;
        total.message = r.message;
        total.retry_after = r.retry_after;
        for (std::size_t i = begin; i < batch.documents.size(); ++i)
          (r.kind == SendResult::Kind::permanent ? total.rejected : total.failed).push_back(i);
        co_return total;
      }
      total.failed.insert(total.failed.end(), r.failed.begin(), r.failed.end());
      total.rejected.insert(total.rejected.end(), r.rejected.begin(), r.rejected.end());
      if (!r.message.empty()) total.message = r.message;
      if (r.retry_after) total.retry_after = r.retry_after;
      begin = members.back() + 1;
    }
    if (!total.failed.empty()) total.kind = SendResult::Kind::partial;
    if (!too_large.empty() && total.message.empty()) total.message = too_large;
    std::sort(total.rejected.begin(), total.rejected.end());
    co_return total;
  }

 private:
  // One request, to the first URL that answers, and the status it answered (0: none). Indexes in the result
  // are batch indexes.
  boost::asio::awaitable<std::pair<SendResult, int>> bulk(std::string body, const std::vector<std::size_t>& members,
                                                          SteadyTime deadline) {
    http::Request req;
    req.method = "POST";
    req.headers.push_back({"Content-Type", "application/x-ndjson"});
    if (o_.gzip) {
      body = gzip(body);
      req.headers.push_back({"Content-Encoding", "gzip"});
    }
    req.body = std::move(body);
    std::string last_error;
    for (std::size_t attempt = 0; attempt < clients_.size(); ++attempt) {
      const std::size_t which = (current_ + attempt) % clients_.size();
      auto& client = *clients_[which];
      http::Request r = req;
      r.target = client.origin().path + "/_bulk" +
                 (o_.pipeline.empty() ? "" : "?pipeline=" + aws::uri_encode(o_.pipeline, true));
      if (auto st = authorize(r, client); !st) co_return std::pair{SendResult::permanent(st.error().message), 0};
      // Each URL still to try gets an equal share of what is left, so that one whose SYN is never answered, or
      // that accepts and hangs, cannot take the whole flush; the last one gets the rest.
      const auto now = std::chrono::steady_clock::now();
      const auto left = static_cast<long>(clients_.size() - attempt);
      const SteadyTime until = left > 1 && deadline > now ? now + (deadline - now) / left : deadline;
      // The answer: an item per document (a few hundred bytes, more with an error's reason) and no more.
      auto res = co_await client.send(std::move(r), until, 64uz * 1024 + members.size() * 2048);
      if (!res) {
        last_error = res.error().message;
        const auto kind = res.error().kind;
        if (kind == http::ClientError::Kind::connect || kind == http::ClientError::Kind::timeout) {
          if (left > 1) log_.warn("elasticsearch: " + last_error + "; trying the next URL");
          continue;  // try the next URL (a stored-but-unanswered bulk finds its ids there: 409)
        }
        co_return std::pair{SendResult::retryable("bulk request failed: " + last_error), 0};
      }
      current_ = which;
      co_return std::pair{classify(*res, members, client.origin().origin()), res->status};
    }
    co_return std::pair{SendResult::retryable(clients_.size() > 1 ? "no cluster URL answered: " + last_error
                                                                  : "bulk request failed: " + last_error),
                        0};
  }

  Status authorize(http::Request& r, const http::Client& client) const {
    if (o_.auth == Auth::basic || o_.auth == Auth::apikey) r.headers.push_back({"Authorization", o_.authorization});
    if (o_.auth != Auth::sigv4) return {};
    aws::SigningParams p{o_.region, std::string(signing_name(o_.service)), std::chrono::system_clock::now(), false,
                         true};
    auto s = aws::sign(r, client.origin().host_header(), o_.credentials, p);
    if (!s) return fail("cannot sign the bulk request: " + s.error().message);
    return {};
  }

  SendResult classify(const http::Response& res, const std::vector<std::size_t>& members, const std::string& origin) {
    const std::string what = "bulk to " + origin + " answered " + std::to_string(res.status);
    if (res.status == 413) return SendResult::permanent(what + " (Request Entity Too Large)");
    if (res.status == 401 || res.status == 403)
      return SendResult::permanent(what + ": authentication or authorization failed; check " +
                                   std::string(auth_setting) + " and its credentials (" + res.body.substr(0, 200) +
                                   ")");
    if (retryable_status(res.status))
      return SendResult::retryable(what + ": " + res.body.substr(0, 200), http::retry_after(res));
    if (res.status < 200 || res.status >= 300) return SendResult::permanent(what + ": " + res.body.substr(0, 300));
    boost::system::error_code ec;
    const auto v = json::parse(res.body, ec);
    if (ec || !v.is_object()) return SendResult::retryable(what + " with a body that is not JSON");
    const auto* errors = v.as_object().if_contains("errors");
    if (!errors || !errors->is_bool() || !errors->get_bool()) return SendResult::ok();
    const auto* items = v.as_object().if_contains("items");
    if (!items || !items->is_array() || items->as_array().size() != members.size())
      return SendResult::retryable(what + " with errors but without one item per document");
    SendResult r = SendResult::ok();
    std::string first_rejection;
    for (std::size_t i = 0; i < members.size(); ++i) {
      const auto& item = items->as_array()[i];
      if (!item.is_object() || item.as_object().empty()) continue;
      const auto& result = item.as_object().begin()->value();
      const auto& action = item.as_object().begin()->key();
      const auto* status = result.is_object() ? result.as_object().if_contains("status") : nullptr;
      const std::int64_t s = status && status->is_int64() ? status->get_int64() : 0;
      if (s >= 200 && s < 300) continue;
      if (s == 409 && action == "create") continue;  // already indexed: an earlier attempt got through
      if (retryable_status(s)) {
        r.failed.push_back(members[i]);
        continue;
      }
      r.rejected.push_back(members[i]);
      if (first_rejection.empty()) {
        const auto* err = result.as_object().if_contains("error");
        first_rejection = "status " + std::to_string(s);
        if (err && err->is_object()) {
          if (const auto* t = err->as_object().if_contains("type"); t && t->is_string())
            first_rejection += " " + std::string(t->get_string());
          if (const auto* why = err->as_object().if_contains("reason"); why && why->is_string())
            first_rejection += ": " + std::string(why->get_string());
        }
      }
    }
    if (!r.failed.empty()) {
      r.kind = SendResult::Kind::partial;
      r.message = what + ": " + std::to_string(r.failed.size()) + " items to retry (429/5xx)";
    }
    if (!r.rejected.empty()) r.message = what + ": first rejection: " + first_rejection;
    return r;
  }

  boost::asio::awaitable<void> check_cluster(SteadyTime deadline) {
    checked_ = true;
    auto& client = *clients_[current_];
    http::Request r;
    r.target = client.origin().path + "/";
    if (!authorize(r, client)) co_return;
    // A quarter of the flush at most (and 2 s): the check is for the log, and must not starve the first bulk.
    const auto now = std::chrono::steady_clock::now();
    const auto until =
        std::min({deadline, now + std::chrono::seconds(2), deadline > now ? now + (deadline - now) / 4 : now});
    auto res = co_await client.send(std::move(r), until);
    if (!res || res->status != 200) {
      log_.warn("elasticsearch: could not check " + client.origin().origin() + " (" +
                (res ? "HTTP " + std::to_string(res->status) : res.error().message) + "); shipping anyway");
      co_return;
    }
    boost::system::error_code ec;
    const auto v = json::parse(res->body, ec);
    std::string product = "Elasticsearch", version = "?";
    if (!ec && v.is_object())
      if (const auto* ver = v.as_object().if_contains("version"); ver && ver->is_object()) {
        if (const auto* n = ver->as_object().if_contains("number"); n && n->is_string()) version = n->get_string();
        if (const auto* d = ver->as_object().if_contains("distribution");
            d && d->is_string() && d->get_string() == "opensearch")
          product = "OpenSearch";
      }
    log_.info("elasticsearch: " + client.origin().origin() + " is " + product + " " + version + "; shipping to " +
              o_.index);
  }

  Options o_;
  std::vector<std::unique_ptr<http::Client>> clients_;
  const Logger& log_;
  std::size_t current_ = 0;
  bool checked_ = false;
  std::size_t accepted_bytes_ = static_cast<std::size_t>(-1);  // lowered by each 413
};

Result<std::unique_ptr<Destination>> make(const Context& ctx) {
  const auto& c = ctx.config;
  Elasticsearch::Options o;
  std::vector<std::unique_ptr<http::Client>> clients;
  http::TlsOptions tls;
  tls.ca_file = c.text(ca_file_setting);
  for (const auto& text : config::split_list(c.text(url_setting))) {
    auto url = http::parse_url(text);
    if (!url) return fail(std::string(url_setting) + ": " + url.error().message);
    auto client = http::Client::make(ctx.executor, *url, tls, ctx.getenv);
    if (!client)
      return fail("the elasticsearch destination cannot use " + url->origin() + ": " + client.error().message);
    o.urls.push_back(*url);
    clients.push_back(std::move(*client));
  }
  if (clients.empty()) return fail(std::string(url_setting) + " names no URL");
  o.index = c.text(index_setting);
  o.dated_index = o.index.find('%') != std::string::npos;
  o.pipeline = c.text(pipeline_setting);
  o.auth = c.choice<Auth>(auth_setting, auth_modes);
  if (o.auth == Auth::basic) {
    if (c.text(username_setting).empty() || c.text(password_setting).empty())
      return fail(std::string(auth_setting) + "=basic needs " + std::string(username_setting) + " and " +
                  std::string(password_setting));
    o.authorization = "Basic " + base64(c.text(username_setting) + ":" + c.text(password_setting));
  } else if (o.auth == Auth::apikey) {
    if (c.text(api_key_setting).empty())
      return fail(std::string(auth_setting) + "=apikey needs " + std::string(api_key_setting));
    o.authorization = "ApiKey " + c.text(api_key_setting);
  } else if (o.auth == Auth::sigv4) {
    auto creds = aws::credentials_from_environment(ctx.getenv);
    if (!creds) return fail(std::string(auth_setting) + "=sigv4: " + creds.error().message);
    auto region = aws::region_from_environment(ctx.getenv);
    if (!region) return fail(std::string(auth_setting) + "=sigv4: " + region.error().message);
    o.credentials = std::move(*creds);
    o.region = *region;
    o.service = c.choice<Sigv4Service>(service_setting, sigv4_services);
  }
  o.gzip = c.choice<Compression>(compression_setting, compressions) == Compression::gzip;
  o.max_bulk_bytes = static_cast<std::size_t>(c.integer(max_bulk_setting));
  o.dead_letter = c.text(dead_letter_setting) == config::no_destination ? "" : c.text(dead_letter_setting);
  if (o.dead_letter == "elasticsearch")
    return fail(std::string(dead_letter_setting) + " cannot be elasticsearch itself");
  o.function = ctx.function.function_name;
  return std::make_unique<Elasticsearch>(std::move(o), std::move(clients), ctx.log);
}

}  // namespace

namespace elasticsearch {

std::string document_id(std::string_view function, std::string_view environment, const pipeline::Document& doc) {
  if (!doc.id.empty()) return aws::sha256_hex("id\n" + doc.id).substr(0, 32);  // the source's stable id
  std::string key;
  key.reserve(function.size() + environment.size() + 48);
  key.append(function).append("\n").append(environment).append("\n");
  key.append(std::to_string(doc.timestamp.value)).append("\n").append(std::to_string(doc.sequence));
  return aws::sha256_hex(key).substr(0, 32);
}

std::string expand_index(std::string_view pattern, EpochMs time) {
  const std::string iso = format_iso8601_ms(time);  // YYYY-MM-DDTHH:MM:SS.mmmZ
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%' || i + 1 == pattern.size()) {
      out += pattern[i];
      continue;
    }
    switch (pattern[++i]) {
      case 'Y':
        out += iso.substr(0, 4);
        break;
      case 'm':
        out += iso.substr(5, 2);
        break;
      case 'd':
        out += iso.substr(8, 2);
        break;
      case 'H':
        out += iso.substr(11, 2);
        break;
      case '%':
        out += '%';
        break;
      default:
        out += '%', out += pattern[i];
    }
  }
  return out;
}

}  // namespace elasticsearch

const DestinationType& elasticsearch_destination() {
  static const DestinationType type{"elasticsearch", settings, &make};
  return type;
}

}  // namespace elk::destinations
