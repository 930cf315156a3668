#include "destinations/s3.h"

#include <boost/asio/any_io_executor.hpp>
#include <cstdio>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "core/gzip.h"
#include "core/time.h"
#include "destinations/ndjson.h"
#include "http/client.h"
#include "http/url.h"

namespace elk::destinations {
namespace {

using config::Kind;
using config::no_choices;
using config::OnInvalid;

constexpr std::string_view bucket_setting = "EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME";
constexpr std::string_view prefix_setting = "EXTENSION_LOG_DESTINATION_S3_OBJECT_NAME";
constexpr std::string_view endpoint_setting = "EXTENSION_LOG_DESTINATION_S3_ENDPOINT";
constexpr std::string_view path_style_setting = "EXTENSION_LOG_DESTINATION_S3_FORCE_PATH_STYLE";
constexpr std::string_view key_format_setting = "EXTENSION_LOG_DESTINATION_S3_KEY_FORMAT";
constexpr std::string_view format_setting = "EXTENSION_LOG_DESTINATION_S3_FORMAT";
constexpr std::string_view compression_setting = "EXTENSION_LOG_DESTINATION_S3_COMPRESSION";
constexpr std::string_view storage_class_setting = "EXTENSION_LOG_DESTINATION_S3_STORAGE_CLASS";
constexpr std::string_view sse_setting = "EXTENSION_LOG_DESTINATION_S3_SSE";
constexpr std::string_view kms_key_setting = "EXTENSION_LOG_DESTINATION_S3_SSE_KMS_KEY_ID";
constexpr std::string_view max_object_setting = "EXTENSION_LOG_DESTINATION_S3_MAX_OBJECT_BYTES";
constexpr std::string_view ca_file_setting = "EXTENSION_LOG_DESTINATION_S3_CA_FILE";

// S3's rules for a general purpose bucket's name (docs: "General purpose bucket naming rules").
std::string check_bucket_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return "a bucket name is 3 to 63 characters long";
  for (const char ch : name)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-'))
      return "a bucket name holds only lower-case letters, digits, '.' and '-'";
  const auto alnum = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return "a bucket name begins and ends with a letter or a digit";
  if (name.find("..") != std::string_view::npos) return "a bucket name has no two adjacent periods";
  bool ip = true;
  int dots = 0;
  for (const char ch : name) {
    ip = ip && ((ch >= '0' && ch <= '9') || ch == '.');
    if (ch == '.') ++dots;
  }
  if (ip && dots == 3) return "a bucket name is not an IP address";
  if (name.find("s3://") == 0 || name.starts_with("arn:")) return "give the bucket's name alone";
  return "";
}

enum class PathStyle { automatic, yes, no };
constexpr config::Choice path_styles[] = {
    {"auto", PathStyle::automatic}, {"true", PathStyle::yes}, {"false", PathStyle::no}};
enum class KeyFormat { flat, partitioned };
constexpr config::Choice key_formats[] = {
    {"flat", KeyFormat::flat}, {"partitioned", KeyFormat::partitioned}, {"seed", KeyFormat::flat}};
enum class Format { ndjson, raw };
constexpr config::Choice formats[] = {{"ndjson", Format::ndjson}, {"raw", Format::raw}};
enum class Compression { automatic, none, gzip };
constexpr config::Choice compressions[] = {
    {"auto", Compression::automatic}, {"none", Compression::none}, {"gzip", Compression::gzip}};
enum class Sse { none, aes256, kms };
constexpr config::Choice sse_modes[] = {{"none", Sse::none}, {"AES256", Sse::aes256}, {"aws:kms", Sse::kms}};

// The x-amz-server-side-encryption value of a mode other than none.
std::string_view sse_header(Sse sse) {
  return sse == Sse::kms ? "aws:kms" : "AES256";
}

constexpr config::Setting settings[] = {
    {bucket_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject,
     "The bucket the logs go to (its name alone, checked against S3's naming rules at init).", "s3", true, false,
     &check_bucket_name},
    {prefix_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject,
     "Key prefix of the objects (default: the function name).", "s3"},
    {endpoint_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject,
     "An S3-compatible endpoint, e.g. http://127.0.0.1:9000 (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, "
     "else AWS S3 in AWS_REGION).",
     "s3"},
    {path_style_setting, Kind::choice, "auto", 0, 0, "", path_styles, OnInvalid::reject,
     "Path-style URLs (https://host/bucket/key); auto: virtual-hosted for AWS, path style for a custom endpoint.",
     "s3"},
    {key_format_setting, Kind::choice, "flat", 0, 0, "", key_formats, OnInvalid::reject,
     "flat: <prefix>-<time>-<unique>.log, the keys of the seed extension (`seed`, their former name, still works); "
     "partitioned: <prefix>/year=/month=/day=/hour=/<function>-<time>-<unique>.ndjson[.gz], ready for Athena and "
     "Glue.",
     "s3"},
    {format_setting, Kind::choice, "ndjson", 0, 0, "", formats, OnInvalid::reject,
     "ndjson: the enriched documents; raw: the telemetry records as Lambda sent them. One per line.", "s3"},
    {compression_setting, Kind::choice, "auto", 0, 0, "", compressions, OnInvalid::reject,
     "gzip sets Content-Encoding and adds .gz to partitioned keys; auto: none for flat keys, gzip for partitioned.",
     "s3"},
    {storage_class_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject,
     "x-amz-storage-class, e.g. STANDARD_IA or INTELLIGENT_TIERING (default: the bucket's, STANDARD).", "s3"},
    {sse_setting, Kind::choice, "none", 0, 0, "", sse_modes, OnInvalid::reject,
     "Server-side encryption requested per object (buckets encrypt with SSE-S3 by default anyway).", "s3"},
    {kms_key_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject,
     "With aws:kms: the KMS key id or ARN (default: the account's aws/s3 key).", "s3"},
    {max_object_setting, Kind::integer, "8388608", 65536, 67108864, "bytes", no_choices, OnInvalid::clamp,
     "Largest object written at once; a larger flush is split into several objects.", "s3"},
    {ca_file_setting, Kind::text, "", 0, 0, "", no_choices, OnInvalid::reject,
     "PEM file of the CA that signed a custom endpoint's certificate (default: the system's CA bundle).", "s3"},
};

std::string xml_element(std::string_view xml, std::string_view name) {
  const std::string open = "<" + std::string(name) + ">", close = "</" + std::string(name) + ">";
  const auto b = xml.find(open);
  if (b == std::string_view::npos) return {};
  const auto e = xml.find(close, b + open.size());
  if (e == std::string_view::npos) return {};
  return std::string(xml.substr(b + open.size(), e - b - open.size()));
}

class S3Destination final : public Destination {
 public:
  struct Options {
    std::string bucket;
    s3::KeyParts key;
    http::Url url;         // origin (+ /bucket for path style)
    std::string key_base;  // target path before the key: "" or "/<bucket>"
    std::string region;
    std::string storage_class;
    Sse sse = Sse::none;
    std::string kms_key_id;
    std::size_t max_object_bytes;
    aws::Credentials credentials;
    bool dead_letter = false;  // names its objects "...-rejected"
  };

  S3Destination(Options o, std::unique_ptr<http::Client> client) : o_(std::move(o)), client_(std::move(client)) {}

  std::string_view name() const override { return "s3"; }
  bool needs_raw() const override { return o_.key.raw; }
  std::size_t max_batch_bytes() const override { return o_.max_object_bytes; }

  boost::asio::awaitable<SendResult> send(const buffer::Batch& batch, SteadyTime deadline) override {
    // One object per piece of at most max_object_bytes (a batch is merged up to it by the dispatcher).
    std::size_t begin = 0;
    while (begin < batch.documents.size()) {
      std::string body;
      const std::size_t end = append_ndjson(batch, begin, body, o_.max_object_bytes, o_.key.raw);
      auto result = co_await put(std::move(body), batch.documents[begin], batch.documents[end - 1], deadline);
      if (result.kind != SendResult::Kind::ok) {
        if (begin == 0) co_return result;
        // The first objects are stored: only the rest is to be retried.
        SendResult partial{SendResult::Kind::partial, result.message, result.retry_after, {}};
        for (std::size_t i = begin; i < batch.documents.size(); ++i) partial.failed.push_back(i);
        co_return partial;
      }
      begin = end;
    }
    co_return SendResult::ok();
  }

 private:
  // The key is named after the object's first document (its time, origin and sequence): a PUT retried after
  // an unknown outcome, or replayed from the spill by a later process, overwrites the same object.
  // Another source's function (Document::function) names the object; a batch of several functions' documents
  // is named after its first.
  [[nodiscard]] s3::KeyParts with_function(std::string_view function) const {
    s3::KeyParts parts = o_.key;
    parts.function = function;
    return parts;
  }

  boost::asio::awaitable<SendResult> put(std::string body, const pipeline::Document& first,
                                         const pipeline::Document& last, SteadyTime deadline) {
    const auto key =
        first.function.empty()
            ? s3::object_key(o_.key, first.timestamp, batch_unique(first, last, o_.dead_letter))
            : s3::object_key(with_function(first.function), first.timestamp, batch_unique(first, last, o_.dead_letter));
    http::Request req;
    req.method = "PUT";
    req.target = o_.url.path + o_.key_base + "/" + aws::uri_encode(key, false);
    if (o_.key.gzip) {
      body = gzip(body);
      req.headers.push_back({"Content-Encoding", "gzip"});
    }
    req.headers.push_back({"Content-Type", "application/x-ndjson"});
    if (!o_.storage_class.empty()) req.headers.push_back({"x-amz-storage-class", o_.storage_class});
    if (o_.sse != Sse::none) {
      req.headers.push_back({"x-amz-server-side-encryption", std::string(sse_header(o_.sse))});
      if (o_.sse == Sse::kms && !o_.kms_key_id.empty())
        req.headers.push_back({"x-amz-server-side-encryption-aws-kms-key-id", o_.kms_key_id});
    }
    req.body = std::move(body);
    aws::SigningParams params{o_.region, "s3", std::chrono::system_clock::now(), true, true};
    auto signed_ = aws::sign(req, o_.url.host_header(), o_.credentials, params);
    if (!signed_) co_return SendResult::permanent("cannot sign the request: " + signed_.error().message);

    const std::string where = "s3://" + o_.bucket + "/" + key;
    auto res = co_await client_->send(std::move(req), deadline);
    if (!res) co_return SendResult::retryable("PUT " + where + " failed: " + res.error().message);
    if (res->status >= 200 && res->status < 300) co_return SendResult::ok();
    const auto err = s3::parse_error(res->body);
    const std::string what = "PUT " + where + " answered " + std::to_string(res->status) +
                             (err.code.empty() ? "" : " " + err.code) + (err.message.empty() ? "" : ": " + err.message);
    if (res->status >= 500 || res->status == 429 || err.code == "SlowDown" || err.code == "RequestTimeout" ||
        err.code == "InternalError" || err.code == "ServiceUnavailable" || err.code == "RequestTimeTooSkewed")
      co_return SendResult::retryable(what, http::retry_after(*res));
    std::string hint;
    if (err.code == "AccessDenied" || res->status == 403)
      hint = "; the function's execution role needs s3:PutObject on arn:aws:s3:::" + o_.bucket + "/*" +
             (o_.sse == Sse::kms ? " and kms:GenerateDataKey on the key" : "");
    if (err.code == "NoSuchBucket")
      hint = "; check " + std::string(bucket_setting) + " (and that the bucket is in " + o_.region + ")";
    if (err.code == "InvalidAccessKeyId" || err.code == "SignatureDoesNotMatch" || err.code == "ExpiredToken" ||
        err.code == "InvalidToken")
      hint = "; the credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN were refused";
    co_return SendResult::permanent(what + hint);
  }

  Options o_;
  std::unique_ptr<http::Client> client_;
};

Result<std::unique_ptr<Destination>> make(const Context& ctx) {
  const auto& c = ctx.config;
  S3Destination::Options o;
  o.bucket = c.text(bucket_setting);
  auto region = aws::region_from_environment(ctx.getenv);
  if (!region) return fail("the s3 destination needs a region: " + region.error().message);
  o.region = *region;
  auto credentials = aws::credentials_from_environment(ctx.getenv);
  if (!credentials) return fail("the s3 destination needs credentials: " + credentials.error().message);
  o.credentials = std::move(*credentials);

  std::string endpoint = c.text(endpoint_setting);
  std::string endpoint_from = std::string(endpoint_setting);
  for (const char* name : {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"})
    if (endpoint.empty())
      if (auto v = ctx.getenv(name); v && !v->empty()) endpoint = *v, endpoint_from = name;
  const bool custom = !endpoint.empty();
  const auto path_style_choice = c.choice<PathStyle>(path_style_setting, path_styles);
  const bool path_style = path_style_choice == PathStyle::yes ||
                          (path_style_choice == PathStyle::automatic && custom) ||
                          o.bucket.find('.') != std::string::npos;  // dotted names break the TLS wildcard
  if (!custom)
    endpoint = path_style ? "https://s3." + o.region + ".amazonaws.com"
                          : "https://" + o.bucket + ".s3." + o.region + ".amazonaws.com";
  else if (!path_style) {
    // Virtual-hosted on a custom endpoint: the bucket becomes the first label of its host name.
    auto base = http::parse_url(endpoint);
    if (!base) return fail(endpoint_from + ": " + base.error().message);
    if (base->host.find(':') != std::string::npos)
      return fail(endpoint_from + "='" + http::without_userinfo(endpoint) +
                  "': an IPv6 endpoint needs path-style URLs (" + std::string(path_style_setting) + "=true or auto)");
    endpoint = base->scheme + "://" + o.bucket + "." + base->host + ":" + std::to_string(base->port) + base->path;
  }
  auto url = http::parse_url(endpoint);
  if (!url) return fail(endpoint_from + ": " + url.error().message);
  o.url = *url;
  o.key_base = path_style ? "/" + aws::uri_encode(o.bucket, true) : "";

  o.dead_letter = ctx.dead_letter;
  o.key.function = ctx.function.function_name.empty() ? "lambda" : ctx.function.function_name;
  o.key.prefix = c.text(prefix_setting).empty() ? o.key.function : c.text(prefix_setting);
  o.key.partitioned = c.choice<KeyFormat>(key_format_setting, key_formats) == KeyFormat::partitioned;
  o.key.raw = c.choice<Format>(format_setting, formats) == Format::raw;
  const auto compression = c.choice<Compression>(compression_setting, compressions);
  o.key.gzip = compression == Compression::gzip || (compression == Compression::automatic && o.key.partitioned);
  o.storage_class = c.text(storage_class_setting);
  o.sse = c.choice<Sse>(sse_setting, sse_modes);
  o.kms_key_id = c.text(kms_key_setting);
  if (!o.kms_key_id.empty() && o.sse != Sse::kms)
    return fail(std::string(kms_key_setting) + " is set but " + std::string(sse_setting) + " is not aws:kms");
  o.max_object_bytes = static_cast<std::size_t>(c.integer(max_object_setting));

  http::TlsOptions tls;
  tls.ca_file = c.text(ca_file_setting);
  auto client = http::Client::make(ctx.executor, o.url, tls, ctx.getenv);
  if (!client) return fail("the s3 destination cannot reach " + o.url.origin() + ": " + client.error().message);
  return std::make_unique<S3Destination>(std::move(o), std::move(*client));
}

}  // namespace

namespace s3 {

std::string object_key(const KeyParts& parts, EpochMs first_time, std::string_view unique) {
  const std::string iso = format_iso8601_ms(first_time);  // 2024-05-02T10:15:30.520Z
  if (!parts.partitioned) return parts.prefix + "-" + iso + "-" + std::string(unique) + ".log";
  std::string compact = iso;
  std::erase(compact, ':');
  std::erase(compact, '-');
  std::string key = parts.prefix + "/year=" + iso.substr(0, 4) + "/month=" + iso.substr(5, 2) +
                    "/day=" + iso.substr(8, 2) + "/hour=" + iso.substr(11, 2) + "/" + parts.function + "-" + compact +
                    "-" + std::string(unique) + ".ndjson";
  if (parts.gzip) key += ".gz";
  return key;
}

S3Error parse_error(std::string_view xml) {
  return {xml_element(xml, "Code"), xml_element(xml, "Message")};
}

}  // namespace s3

const DestinationType& s3_destination() {
  static const DestinationType type{"s3", settings, &make};
  return type;
}

}  // namespace elk::destinations
