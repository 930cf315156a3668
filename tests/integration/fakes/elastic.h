// A strict fake Elasticsearch / OpenSearch for the integration tests: `GET /` and `_bulk`, answered as the real
// server answers (PROTOCOLS.md §6), refusing what the real server refuses, with fault injection. It runs on its
// own thread on 127.0.0.1 (ephemeral port) from construction to destruction; every method is thread-safe and
// accessors return copies.
//
// Where the fake is STRICTER than Elasticsearch 8.11 (to catch our bugs rather than hide them):
//  - Content-Type must be application/x-ndjson (or application/vnd.elasticsearch+x-ndjson; compatible-with=7|8),
//    charset, if given, utf-8. Elasticsearch also takes application/json (and SMILE) for _bulk; set
//    ElasticOptions::accept_json_content_type to allow application/json. A refused type is answered as
//    Elasticsearch answers any unsupported one: 406 {"error":"Content-Type header [..] is not supported","status":406}.
//  - An unknown action ("foo") is a 400 illegal_argument_exception (8.11 only logs a deprecation warning and skips
//    the item; 9.x refuses it). An action object with more than one key is a 400 too (8.11: deprecation warning).
//  - An action line (create/index/update) that is the last line, with no source line after it, is a 400
//    illegal_argument_exception (Elasticsearch silently drops that action, so `items` is one short).
//  - The data_stream.type/dataset/namespace fields of a document sent to a data stream, when present, must equal
//    the parts of the data stream's name ("logs-aws.lambda-default" -> logs / aws.lambda / default). Elasticsearch
//    holds them as constant_keyword fields, set by the first document.
// Modelled, within limits:
//  - Dynamic mapping per index: the first document fixes a field's type (object, text+keyword, long, float,
//    boolean, date by date_detection); a later document whose value does not fit gets an item-level 400
//    document_parsing_exception (mapper_parsing_exception for OpenSearch), as do more than
//    ElasticOptions::total_fields_limit mapped fields (text counts 2, for its .keyword), duplicate keys
//    (Jackson's STRICT_DUPLICATE_DETECTION), metadata fields (_id, _index, ...) inside a document, invalid UTF-8,
//    empty or ambiguous field names ("", ".a", "a.", "a..b"), and a source that is not a JSON object.
//  - `update` supports doc (deep merge), upsert, doc_as_upsert and detect_noop, not scripts (item 400);
//    `delete` as Elasticsearch (404 "not_found" without an error when absent). Both are refused on data streams.
//  - Successful items on a data stream report its backing index, ".ds-<name>-<yyyy.MM.dd>-000001"; the fake's
//    accessors name documents by the data stream.
//  - Query parameters of _bulk are checked against the documented list (unknown -> 400); filter_path is applied
//    (names, '*' and '**' segments; no exclusions); refresh must be true|false|wait_for|"".
//  - Only `/` (GET, HEAD) and `_bulk` (POST, PUT) exist. Any other path gets Elasticsearch's
//    {"error":"no handler found for uri [..] and method [..]","status":400}; a wrong method 405.
//  - Repeated WWW-Authenticate challenges are sent as one comma-joined header (our HTTP server keeps one value
//    per header name).
//  - A HEAD answer has an empty body and Content-Length 0.
// SigV4 (auth kind sigv4) is checked by re-signing a copy of the request (only its signed headers, its own
// x-amz-date and session token) with our signer, src/aws/sigv4.*, and comparing SignedHeaders and Signature. That
// shares our signer's canonicalisation (itself verified against AWS's test suite), so the structural facts are
// also checked independently: algorithm AWS4-HMAC-SHA256; Credential = <configured key>/<x-amz-date's
// date>/<region>/<service es|aoss>/aws4_request; x-amz-date present and within max_clock_skew of now; host and
// x-amz-date signed; the session token present, equal and signed exactly when one is configured; for aoss
// x-amz-content-sha256 present, signed and equal to the SHA-256 of the body as sent. Refusals are 403 with
// Amazon's {"message":"..."} bodies; RecordedRequest::refusal says precisely what failed (with the canonical
// request the fake expected).
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fakes/common.h"

namespace elk::fakes {

// Who may call the fake. Change it at run time with FakeElasticsearch::set_auth.
struct ElasticAuth {
  enum class Kind { none, basic, api_key, sigv4 };
  Kind kind = Kind::none;
  // basic: "Authorization: Basic base64(user:password)", else 401 security_exception.
  std::string user;
  std::string password;
  // api_key: "Authorization: ApiKey <api_key>", where api_key is the encoded value (base64 of "id:key", the
  // "encoded" field of Elasticsearch's create-API-key answer), else 401 security_exception.
  std::string api_key;
  // sigv4: Amazon OpenSearch Service ("es") or OpenSearch Serverless ("aoss"), else 403.
  std::string service = "es";
  std::string region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // "" = long-term keys: requests must then carry no x-amz-security-token
  std::chrono::seconds max_clock_skew{15 * 60};

  [[nodiscard]] static ElasticAuth basic(std::string user, std::string password);
  [[nodiscard]] static ElasticAuth api_key_auth(std::string encoded);
  [[nodiscard]] static ElasticAuth sigv4(std::string service, std::string region, std::string access_key_id,
                                         std::string secret_access_key, std::string session_token = "");
};

struct ElasticOptions {
  enum class Flavor { elasticsearch, opensearch };
  // opensearch: GET / says "distribution":"opensearch"; error types are OpenSearch's (rejected_execution_exception,
  // mapper_parsing_exception); 401s are the security plugin's plain "Unauthorized"; no X-elastic-product header.
  Flavor flavor = Flavor::elasticsearch;
  std::string version;      // "" = "8.11.0" (elasticsearch) or "2.11.0" (opensearch)
  std::string path_prefix;  // "" or e.g. "/es": every route lives below it; other paths get a proxy's 404
  std::vector<std::string> data_stream_patterns{"logs-*-*"};  // index names ('*' globs) that are data streams
  bool accept_json_content_type = false;                      // see the header comment
  std::size_t max_body_bytes = 100 * 1024 * 1024;             // http.max_content_length (raw and decoded) -> 413
  std::size_t total_fields_limit = 1000;                      // index.mapping.total_fields.limit
  // Ingest pipelines that exist ("_none" always does). An item naming another (pipeline= on the request or in
  // the action) is answered 400 "pipeline with id [..] does not exist", as Elasticsearch answers.
  std::vector<std::string> pipelines;
  ElasticAuth auth;
};

// A document as stored now (its latest version).
struct StoredDocument {
  std::string index;  // the target as written: the data stream's or the index's name
  std::string id;
  std::int64_t version = 1;
  boost::json::object source;
};

// Every bulk item the fake answered, in order (also the refused ones).
struct BulkItemRecord {
  std::string action;  // create | index | update | delete
  std::string index;   // as written ("" when missing)
  std::string id;      // given or generated; "" when the answer had "_id":null
  int status = 0;
  std::string result;      // created | updated | deleted | noop | not_found; "" on error
  std::string error_type;  // "" on success
  std::string error_reason;
};

// Called with each create/index document's source, on the fake's thread but not under its lock.
using DocumentPredicate = std::function<bool(const boost::json::object& source)>;

class FakeElasticsearch {
 public:
  explicit FakeElasticsearch(ElasticOptions options = {});
  ~FakeElasticsearch();
  FakeElasticsearch(const FakeElasticsearch&) = delete;
  FakeElasticsearch& operator=(const FakeElasticsearch&) = delete;

  [[nodiscard]] std::uint16_t port() const;
  // "http://127.0.0.1:<port><path_prefix>": the URL to configure the extension with.
  [[nodiscard]] std::string url() const;
  // "127.0.0.1:<port>": the Host header clients send (and sign).
  [[nodiscard]] std::string host() const;

  // --- faults: settable at any time, from any thread ---
  // The next `n` _bulk requests are answered with `fault` (before authentication and parsing; nothing stored).
  // Without a body: 429 es_rejected_execution_exception, 503 cluster_block_exception, 401/403
  // security_exception, 413 empty, 502/504 a proxy's HTML page, others a generic Elasticsearch error.
  void fail_next_requests(int n, HttpFault fault);
  // While predicate() holds, every _bulk request is answered with `fault` as above (nothing stored); it is
  // asked per request, before fail_next_requests' count. See FaultableServer (common.h).
  void fail_while(std::function<bool()> predicate, HttpFault fault);
  // While predicate() holds, connections are refused (ECONNREFUSED) and those already open are closed after
  // their exchange in progress; then the fake listens again on the same port. See FaultableServer (common.h).
  void refuse_connections_while(std::function<bool()> predicate);
  // The next `k` create/index items that get that far (past the request checks and the item checks before it:
  // index name, data stream op type, pipeline, source parsing) are answered 429 es_rejected_execution_exception
  // and not stored. update/delete items are never rejected.
  void reject_next_items(int k);
  // While set, items whose document matches are answered 429 es_rejected_execution_exception (not stored).
  void reject_items_where(DocumentPredicate predicate);
  // While set, items whose document matches are answered 400 document_parsing_exception (a mapping error;
  // `reason` replaces the default "failed to parse field [...]" text) and not stored.
  void mapping_error_where(DocumentPredicate predicate, std::string reason = "");
  // Slow mode: _bulk requests are processed (documents stored) and then answered after `delay`, e.g. to pass
  // a client's timeout after storing. Zero turns it off.
  void set_response_delay(std::chrono::milliseconds delay);
  void set_auth(ElasticAuth auth);
  // Clears all of the above faults (not the auth); a refused port listens again within 2 ms.
  void clear_faults();

  // --- what arrived (copies) ---
  [[nodiscard]] std::vector<RecordedRequest> requests() const;       // every request, in order of answer
  [[nodiscard]] std::vector<RecordedRequest> bulk_requests() const;  // those to _bulk
  [[nodiscard]] std::vector<BulkItemRecord> items() const;
  // The documents of one data stream or index, in order of first write; all of them, by index name then order.
  [[nodiscard]] std::vector<StoredDocument> documents(std::string_view index) const;
  [[nodiscard]] std::vector<StoredDocument> all_documents() const;
  [[nodiscard]] std::size_t document_count() const;
  // Index and data stream names, created (as Elasticsearch auto-creates them) by the first item to reach them,
  // even one that then failed; sorted.
  [[nodiscard]] std::vector<std::string> indices() const;
  // How often a write of (index, id) was accepted (create, index or update answered 2xx).
  [[nodiscard]] int times_accepted(std::string_view index, std::string_view id) const;
  // (index, id) pairs accepted more than once: duplicates, when the client only ever creates.
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> duplicates() const;
  // Requests our HTTP server refused before the fake saw them (413: raw body over max_body_bytes).
  [[nodiscard]] std::size_t refused_by_server() const;

  // Wait (up to `timeout`) until at least `n` documents are stored / `n` _bulk requests were answered.
  [[nodiscard]] bool wait_for_documents(std::size_t n, std::chrono::milliseconds timeout) const;
  [[nodiscard]] bool wait_for_bulk_requests(std::size_t n, std::chrono::milliseconds timeout) const;

  // Forgets documents, mappings, requests and items (faults and auth stay).
  void clear();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace elk::fakes
