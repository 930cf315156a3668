// The fake servers' own tests: every strictness rule and every fault, exercised with our plain HTTP client
// (http::send) or a blocking socket, so that an integration test failing against a fake points at the extension,
// not at the fake.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <thread>

#include "aws/sigv4.h"
#include "fakes/elastic.h"
#include "fakes/logstash.h"
#include "http/client.h"

namespace elk::fakes {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

http::ClientResult<http::Response> exchange(std::uint16_t port, http::Request req, std::chrono::milliseconds timeout) {
  asio::io_context io;
  // http::send keeps a reference to the endpoint until it completes: it must outlive io.run().
  const http::Endpoint endpoint{"127.0.0.1", port};
  auto fut = asio::co_spawn(io, http::send(endpoint, std::move(req), timeout), asio::use_future);
  io.run();
  return fut.get();
}

http::Response call(std::uint16_t port, http::Request req) {
  auto r = exchange(port, std::move(req), 5s);
  if (!r) {
    ADD_FAILURE() << "request failed: " << r.error().message;
    return {};
  }
  return *r;
}

// NDJSON: every line followed by '\n'.
std::string nd(std::initializer_list<std::string_view> lines) {
  std::string out;
  for (const auto line : lines) out.append(line).append("\n");
  return out;
}

http::Request post(std::string target, std::string body, std::string content_type = "application/x-ndjson") {
  http::Request r;
  r.method = "POST";
  r.target = std::move(target);
  if (!content_type.empty()) r.headers.push_back({"Content-Type", std::move(content_type)});
  r.body = std::move(body);
  return r;
}

http::Request bulk(std::string body, std::string target = "/_bulk") {
  return post(std::move(target), std::move(body));
}

http::Request get(std::string target = "/") {
  http::Request r;
  r.target = std::move(target);
  return r;
}

json::object parse_object(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << text;
    return {};
  }
  return std::move(v.as_object());
}

// Item i of a _bulk answer without its action key ({"create":{...}} -> {...}), and the action.
json::object item(const json::object& answer, std::size_t i) {
  return answer.at("items").as_array().at(i).as_object().begin()->value().as_object();
}
std::string item_action(const json::object& answer, std::size_t i) {
  return std::string(answer.at("items").as_array().at(i).as_object().begin()->key());
}
// The first item of the answer to a _bulk request with this body.
json::object first_item(const FakeElasticsearch& es, std::string body) {
  return item(parse_object(call(es.port(), bulk(std::move(body))).body), 0);
}
std::string error_type(const json::object& inner) {
  return std::string(inner.at("error").at("type").as_string());
}
std::string error_reason(const json::object& inner) {
  return std::string(inner.at("error").at("reason").as_string());
}
// The error type and reason of an Elasticsearch exception body.
std::string top_error_type(const http::Response& r) {
  return std::string(parse_object(r.body).at("error").at("type").as_string());
}
std::string top_error_reason(const http::Response& r) {
  return std::string(parse_object(r.body).at("error").at("reason").as_string());
}
std::string header_of(const http::Response& r, std::string_view name) {
  return std::string(r.header(name).value_or(""));
}

// Whether `condition` holds within `timeout` (checked every 5 ms).
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 2s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
}

// A fault switched through the file system, as an emulator's --before-invocation command switches it.
class FlagFile {
 public:
  FlagFile() { std::filesystem::remove(path_); }
  ~FlagFile() { std::filesystem::remove(path_); }
  void set(bool on) {
    if (on)
      std::ofstream(path_).put('1');
    else
      std::filesystem::remove(path_);
  }
  [[nodiscard]] std::function<bool()> exists() const {
    return [path = path_] { return std::filesystem::exists(path); };
  }

 private:
  std::filesystem::path path_ =
      std::filesystem::temp_directory_path() / ("elk-fakes-" + std::to_string(::getpid()) + "-down");
};

// Whether a TCP connection to the port is refused (no request is sent).
bool refused(std::uint16_t port) {
  asio::io_context io;
  tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  return ec == asio::error::connection_refused;
}

constexpr std::string_view create_a = R"({"create":{"_index":"a"}})";
constexpr std::string_view create_ds = R"({"create":{"_index":"logs-app-default"}})";
constexpr std::string_view doc = R"({"@timestamp":"2024-05-02T10:15:30.520Z","message":"hello"})";

// ================================================================================================================
// Elasticsearch: identity and routes

TEST(FakeElasticsearch, root_answers_elasticsearch_identity) {
  FakeElasticsearch es;
  const auto r = call(es.port(), get());
  ASSERT_EQ(r.status, 200);
  const auto body = parse_object(r.body);
  EXPECT_EQ(body.at("name"), "fake");
  EXPECT_EQ(body.at("cluster_name"), "fake");
  EXPECT_EQ(body.at("version").at("number"), "8.11.0");
  EXPECT_FALSE(body.at("version").as_object().contains("distribution"));
  EXPECT_EQ(body.at("tagline"), "You Know, for Search");
  EXPECT_EQ(header_of(r, "X-elastic-product"), "Elasticsearch");
  EXPECT_EQ(header_of(r, "Content-Type"), "application/json");
}

TEST(FakeElasticsearch, root_answers_opensearch_identity_when_asked) {
  ElasticOptions o;
  o.flavor = ElasticOptions::Flavor::opensearch;
  FakeElasticsearch os(o);
  const auto r = call(os.port(), get());
  ASSERT_EQ(r.status, 200);
  const auto body = parse_object(r.body);
  EXPECT_EQ(body.at("version").at("distribution"), "opensearch");
  EXPECT_EQ(body.at("version").at("number"), "2.11.0");
  EXPECT_FALSE(r.header("X-elastic-product").has_value());
}

TEST(FakeElasticsearch, head_root_answers_without_body) {
  FakeElasticsearch es;
  auto req = get();
  req.method = "HEAD";
  const auto r = call(es.port(), req);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
}

TEST(FakeElasticsearch, unknown_route_is_400_no_handler_and_wrong_method_is_405) {
  FakeElasticsearch es;
  auto r = call(es.port(), get("/_cluster/health"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(parse_object(r.body).at("error"), "no handler found for uri [/_cluster/health] and method [GET]");
  r = call(es.port(), get("/_bulk"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header_of(r, "Allow"), "POST, PUT");
  auto put = bulk(nd({create_a, "{}"}));
  put.method = "PUT";
  EXPECT_EQ(call(es.port(), put).status, 200);
}

TEST(FakeElasticsearch, path_prefix_is_required_when_configured) {
  ElasticOptions o;
  o.path_prefix = "/es";
  FakeElasticsearch es(o);
  EXPECT_EQ(es.url(), "http://127.0.0.1:" + std::to_string(es.port()) + "/es");
  EXPECT_EQ(call(es.port(), get("/es/")).status, 200);
  EXPECT_EQ(call(es.port(), get("/es")).status, 200);
  EXPECT_EQ(call(es.port(), bulk(nd({create_a, "{}"}), "/es/_bulk")).status, 200);
  EXPECT_EQ(call(es.port(), bulk(nd({create_a, "{}"}), "/_bulk")).status, 404);
  EXPECT_EQ(call(es.port(), bulk(nd({R"({"create":{}})", "{}"}), "/es/b/_bulk")).status, 200);
  EXPECT_EQ(es.document_count(), 2u);
}

// ================================================================================================================
// Elasticsearch: _bulk success shape and storage

TEST(FakeElasticsearch, bulk_stores_documents_and_answers_items_in_request_order) {
  FakeElasticsearch es;
  const auto r = call(es.port(), bulk(nd({R"({"create":{"_index":"app","_id":"a1"}})", doc,
                                          R"({"index":{"_index":"app"}})", R"({"message":"second"})"})));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto answer = parse_object(r.body);
  EXPECT_EQ(answer.at("errors"), false);
  EXPECT_TRUE(answer.at("took").is_int64());
  ASSERT_EQ(answer.at("items").as_array().size(), 2u);
  EXPECT_EQ(item_action(answer, 0), "create");
  EXPECT_EQ(item_action(answer, 1), "index");
  const auto first = item(answer, 0);
  EXPECT_EQ(first.at("_index"), "app");
  EXPECT_EQ(first.at("_id"), "a1");
  EXPECT_EQ(first.at("_version"), 1);
  EXPECT_EQ(first.at("result"), "created");
  EXPECT_EQ(first.at("status"), 201);
  EXPECT_EQ(first.at("_seq_no"), 0);
  EXPECT_EQ(first.at("_primary_term"), 1);
  EXPECT_EQ(first.at("_shards").at("successful"), 1);
  const auto second = item(answer, 1);
  EXPECT_EQ(second.at("_seq_no"), 1);
  EXPECT_EQ(second.at("_id").as_string().size(), 20u);  // generated, Elasticsearch-style

  const auto docs = es.documents("app");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].id, "a1");
  EXPECT_EQ(docs[0].source.at("message"), "hello");
  EXPECT_EQ(docs[1].source.at("message"), "second");
  EXPECT_EQ(docs[1].id, std::string(second.at("_id").as_string()));
  EXPECT_EQ(es.items().size(), 2u);
  EXPECT_EQ(es.times_accepted("app", "a1"), 1);
  EXPECT_TRUE(es.duplicates().empty());
}

TEST(FakeElasticsearch, target_in_path_is_the_default_index) {
  FakeElasticsearch es;
  const auto r = call(
      es.port(), bulk(nd({R"({"create":{}})", R"({"a":1})", R"({"create":{"_index":"other"}})", "{}"}), "/mine/_bulk"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(es.documents("mine").size(), 1u);
  EXPECT_EQ(es.documents("other").size(), 1u);
  EXPECT_EQ(es.indices(), (std::vector<std::string>{"mine", "other"}));
}

TEST(FakeElasticsearch, records_requests_with_headers_and_decoded_body) {
  FakeElasticsearch es;
  auto req = bulk(nd({create_a, "{}"}), "/_bulk?refresh=false");
  req.headers.push_back({"X-Test", "yes"});
  ASSERT_EQ(call(es.port(), req).status, 200);
  EXPECT_TRUE(es.wait_for_bulk_requests(1, 1s));
  const auto reqs = es.bulk_requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/_bulk?refresh=false");
  EXPECT_EQ(reqs[0].header("x-test").value_or(""), "yes");
  EXPECT_EQ(reqs[0].body, req.body);
  EXPECT_EQ(reqs[0].status, 200);
  EXPECT_TRUE(reqs[0].refusal.empty());
}

TEST(FakeElasticsearch, crlf_line_endings_are_accepted) {
  FakeElasticsearch es;
  const auto r = call(es.port(), bulk("{\"create\":{\"_index\":\"a\"}}\r\n{\"x\":1}\r\n"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse_object(r.body).at("errors"), false);
  EXPECT_EQ(es.documents("a").at(0).source.at("x"), 1);
}

TEST(FakeElasticsearch, blank_lines_between_actions_are_skipped) {
  FakeElasticsearch es;
  EXPECT_EQ(call(es.port(), bulk(nd({"", create_a, "{}", ""}))).status, 200);
  EXPECT_EQ(es.document_count(), 1u);
}

// ================================================================================================================
// Elasticsearch: request-level strictness

TEST(FakeElasticsearch, refuses_content_types_other_than_ndjson_with_406) {
  FakeElasticsearch es;
  const std::string body = nd({create_a, "{}"});
  for (const std::string ct : {"application/json", "text/plain", "application/x-ndjson; charset=ISO-8859-1"}) {
    const auto r = call(es.port(), post("/_bulk", body, ct));
    EXPECT_EQ(r.status, 406) << ct;
    EXPECT_EQ(r.body, "{\"error\":\"Content-Type header [" + ct + "] is not supported\",\"status\":406}");
  }
  const auto missing = call(es.port(), post("/_bulk", body, ""));
  EXPECT_EQ(missing.status, 406);
  EXPECT_EQ(parse_object(missing.body).at("error"), "Content-Type header is missing");
  EXPECT_EQ(es.document_count(), 0u);

  EXPECT_EQ(call(es.port(), post("/_bulk", body, "application/x-ndjson; charset=UTF-8")).status, 200);
  const auto compat =
      call(es.port(), post("/_bulk", body, "application/vnd.elasticsearch+x-ndjson; compatible-with=8"));
  EXPECT_EQ(compat.status, 200);
  EXPECT_EQ(header_of(compat, "Content-Type"), "application/vnd.elasticsearch+json;compatible-with=8");
  EXPECT_EQ(call(es.port(), post("/_bulk", body, "application/vnd.elasticsearch+x-ndjson")).status, 406);
}

TEST(FakeElasticsearch, accepts_application_json_when_configured) {
  ElasticOptions o;
  o.accept_json_content_type = true;
  FakeElasticsearch es(o);
  EXPECT_EQ(call(es.port(), post("/_bulk", nd({create_a, "{}"}), "application/json")).status, 200);
}

TEST(FakeElasticsearch, gunzips_content_encoding_gzip) {
  FakeElasticsearch es;
  const std::string plain = nd({create_a, doc});
  auto req = bulk(gzip_compress(plain));
  req.headers.push_back({"Content-Encoding", "gzip"});
  const auto r = call(es.port(), req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(es.documents("a").size(), 1u);
  const auto rec = es.bulk_requests().at(0);
  EXPECT_EQ(rec.body, plain);
  EXPECT_EQ(rec.raw_body, req.body);

  auto corrupt = bulk("\x1f\x8b not really gzip");
  corrupt.headers.push_back({"Content-Encoding", "gzip"});
  const auto bad = call(es.port(), corrupt);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(top_error_type(bad), "illegal_argument_exception");
}

TEST(FakeElasticsearch, refuses_body_without_final_newline) {
  FakeElasticsearch es;
  const auto r = call(es.port(), bulk(std::string(create_a) + "\n{}"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(top_error_type(r), "illegal_argument_exception");
  EXPECT_EQ(top_error_reason(r), "The bulk request must be terminated by a newline [\\n]");
  EXPECT_EQ(es.document_count(), 0u);
}

TEST(FakeElasticsearch, refuses_empty_body) {
  FakeElasticsearch es;
  const auto r = call(es.port(), bulk(""));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(top_error_type(r), "parse_exception");
  EXPECT_EQ(top_error_reason(r), "request body is required");
}

TEST(FakeElasticsearch, refuses_unknown_action) {
  FakeElasticsearch es;
  const auto r = call(es.port(), bulk(nd({R"({"upsert":{"_index":"a"}})", "{}"})));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(top_error_type(r), "illegal_argument_exception");
  EXPECT_NE(top_error_reason(r).find("[upsert]"), std::string::npos);
}

TEST(FakeElasticsearch, refuses_malformed_action_line) {
  FakeElasticsearch es;
  auto r = call(es.port(), bulk(nd({R"({"create":{"_index":"a"})", "{}"})));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(top_error_type(r), "x_content_parse_exception");
  r = call(es.port(), bulk(nd({R"("create")", "{}"})));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(top_error_reason(r), "Malformed action/metadata line [1], expected START_OBJECT but found [VALUE_STRING]");
  r = call(es.port(), bulk(nd({R"({"create":{"_index":"a"},"index":{}})", "{}"})));
  EXPECT_EQ(r.status, 400);
  r = call(es.port(), bulk(nd({R"({"create":{"_index":["a"]}})", "{}"})));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(top_error_reason(r),
            "Malformed action/metadata line [1], expected a simple value for field [_index] but found [START_ARRAY]");
  r = call(es.port(), bulk(nd({R"({"create":{"_index":"a","_index":"b"}})", "{}"})));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(top_error_type(r), "x_content_parse_exception");
  EXPECT_EQ(es.document_count(), 0u);
}

TEST(FakeElasticsearch, refuses_unknown_action_parameter_such_as_type) {
  FakeElasticsearch es;
  const auto r = call(es.port(), bulk(nd({R"({"create":{"_index":"a","_type":"_doc"}})", "{}"})));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(top_error_reason(r), "Action/metadata line [1] contains an unknown parameter [_type]");
}

TEST(FakeElasticsearch, refuses_action_without_source_line) {
  FakeElasticsearch es;
  const auto r = call(es.port(), bulk(nd({create_a, "{}", create_a})));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(top_error_type(r), "illegal_argument_exception");
  EXPECT_EQ(es.document_count(), 0u);
}

TEST(FakeElasticsearch, missing_index_or_id_is_a_validation_error) {
  FakeElasticsearch es;
  const auto r = call(es.port(), bulk(nd({R"({"create":{}})", "{}", R"({"delete":{"_index":"a"}})"})));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(top_error_type(r), "action_request_validation_exception");
  EXPECT_EQ(top_error_reason(r), "Validation Failed: 1: index is missing;2: id is missing;");
}

TEST(FakeElasticsearch, unknown_query_parameter_is_refused_and_filter_path_is_applied) {
  FakeElasticsearch es;
  const std::string body = nd({create_a, "{}", create_a, "[]"});
  auto r = call(es.port(), bulk(body, "/_bulk?foo=1"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(top_error_reason(r), "request [/_bulk] contains unrecognized parameter: [foo]");
  EXPECT_EQ(call(es.port(), bulk(body, "/_bulk?refresh=sometimes")).status, 400);
  r = call(es.port(), bulk(body, "/_bulk?filter_path=errors,items.*.error"));
  ASSERT_EQ(r.status, 200);
  const auto answer = parse_object(r.body);
  EXPECT_EQ(answer.size(), 2u);  // errors, items
  EXPECT_EQ(answer.at("errors"), true);
  ASSERT_EQ(answer.at("items").as_array().size(), 1u);  // only the failed item keeps something
  EXPECT_TRUE(item(answer, 0).contains("error"));
  EXPECT_FALSE(item(answer, 0).contains("status"));
}

TEST(FakeElasticsearch, unknown_pipeline_fails_the_item) {
  ElasticOptions o;
  o.pipelines = {"known"};
  FakeElasticsearch es(o);
  const auto r = call(es.port(), bulk(nd({R"({"create":{"_index":"a","pipeline":"nope"}})", "{}", create_a, "{}"}),
                                      "/_bulk?pipeline=known"));
  ASSERT_EQ(r.status, 200);
  const auto answer = parse_object(r.body);
  EXPECT_EQ(item(answer, 0).at("status"), 400);
  EXPECT_EQ(error_reason(item(answer, 0)), "pipeline with id [nope] does not exist");
  EXPECT_EQ(item(answer, 1).at("status"), 201);
}

TEST(FakeElasticsearch, body_over_the_limit_is_413_raw_or_decoded) {
  ElasticOptions o;
  o.max_body_bytes = 1024;
  FakeElasticsearch es(o);
  const std::string big = nd({create_a, "{\"m\":\"" + std::string(2000, 'x') + "\"}"});
  EXPECT_EQ(call(es.port(), bulk(big)).status, 413);
  EXPECT_EQ(es.refused_by_server(), 1u);
  auto gz = bulk(gzip_compress(big));
  ASSERT_LT(gz.body.size(), 1024u);
  gz.headers.push_back({"Content-Encoding", "gzip"});
  EXPECT_EQ(call(es.port(), gz).status, 413);
  EXPECT_EQ(es.document_count(), 0u);
}

// ================================================================================================================
// Elasticsearch: item-level strictness

TEST(FakeElasticsearch, malformed_source_fails_only_that_item) {
  FakeElasticsearch es;
  const auto r = call(es.port(), bulk(nd({create_a, R"({"x":)", create_a, R"({"x":1})"})));
  ASSERT_EQ(r.status, 200);
  const auto answer = parse_object(r.body);
  EXPECT_EQ(answer.at("errors"), true);
  EXPECT_EQ(item(answer, 0).at("status"), 400);
  EXPECT_EQ(error_type(item(answer, 0)), "document_parsing_exception");
  EXPECT_EQ(item(answer, 1).at("status"), 201);
  EXPECT_EQ(es.document_count(), 1u);
}

TEST(FakeElasticsearch, invalid_utf8_duplicate_keys_metadata_fields_and_non_objects_fail_the_item) {
  FakeElasticsearch es;
  for (const std::string source :
       {"{\"m\":\"\xff\"}", R"({"m":1,"m":2})", R"({"_id":"x"})", "[1,2]", "", R"({"":1})", R"({"a..b":1})"}) {
    const auto inner = first_item(es, nd({create_a, source}));
    EXPECT_EQ(inner.at("status"), 400) << source;
    EXPECT_EQ(error_type(inner), "document_parsing_exception") << source;
  }
  EXPECT_EQ(es.document_count(), 0u);
}

TEST(FakeElasticsearch, invalid_index_name_fails_the_item) {
  FakeElasticsearch es;
  const auto inner = first_item(es, nd({R"({"create":{"_index":"MyLogs"}})", "{}"}));
  EXPECT_EQ(inner.at("status"), 400);
  EXPECT_EQ(error_type(inner), "invalid_index_name_exception");
  EXPECT_EQ(error_reason(inner), "Invalid index name [MyLogs], must be lowercase");
}

TEST(FakeElasticsearch, data_stream_accepts_only_create) {
  FakeElasticsearch es;
  const auto r = call(es.port(), bulk(nd({R"({"index":{"_index":"logs-app-default"}})", doc, create_ds, doc,
                                          R"({"index":{"_index":"logs-app-default","op_type":"create"}})", doc})));
  ASSERT_EQ(r.status, 200);
  const auto answer = parse_object(r.body);
  EXPECT_EQ(answer.at("errors"), true);
  const auto refused = item(answer, 0);
  EXPECT_EQ(refused.at("status"), 400);
  EXPECT_EQ(error_type(refused), "illegal_argument_exception");
  EXPECT_EQ(error_reason(refused), "only write ops with an op_type of create are allowed in data streams");
  EXPECT_TRUE(refused.at("_id").is_null());
  const auto created = item(answer, 1);
  EXPECT_EQ(created.at("status"), 201);
  EXPECT_TRUE(created.at("_index").as_string().starts_with(".ds-logs-app-default-"));
  EXPECT_TRUE(created.at("_index").as_string().ends_with("-000001"));
  EXPECT_EQ(item(answer, 2).at("status"), 201);
  EXPECT_EQ(es.documents("logs-app-default").size(), 2u);
}

TEST(FakeElasticsearch, data_stream_documents_need_a_valid_timestamp) {
  FakeElasticsearch es;
  const auto answer = parse_object(
      call(es.port(), bulk(nd({create_ds, R"({"message":"no time"})", create_ds, R"({"@timestamp":"yesterday"})",
                               create_ds, R"({"@timestamp":1714644935515})"})))
          .body);
  EXPECT_EQ(item(answer, 0).at("status"), 400);
  EXPECT_EQ(error_type(item(answer, 0)), "document_parsing_exception");
  EXPECT_NE(error_reason(item(answer, 0)).find("data stream timestamp field [@timestamp] is missing"),
            std::string::npos);
  EXPECT_EQ(item(answer, 1).at("status"), 400);
  EXPECT_NE(error_reason(item(answer, 1)).find("failed to parse field [@timestamp] of type [date]"), std::string::npos);
  EXPECT_EQ(item(answer, 2).at("status"), 201);
}

TEST(FakeElasticsearch, data_stream_fields_must_match_its_name) {
  FakeElasticsearch es;
  constexpr std::string_view create = R"({"create":{"_index":"logs-aws.lambda-default"}})";
  const auto answer = parse_object(
      call(es.port(), bulk(nd({create,
                               R"({"@timestamp":"2024-05-02T10:15:30Z",)"
                               R"("data_stream":{"type":"logs","dataset":"aws.lambda","namespace":"default"}})",
                               create, R"({"@timestamp":"2024-05-02T10:15:30Z","data_stream.dataset":"other"})"})))
          .body);
  EXPECT_EQ(item(answer, 0).at("status"), 201);
  EXPECT_EQ(item(answer, 1).at("status"), 400);
  EXPECT_NE(error_reason(item(answer, 1)).find("[constant_keyword] field [data_stream.dataset]"), std::string::npos);
}

TEST(FakeElasticsearch, data_stream_patterns_are_configurable) {
  ElasticOptions o;
  o.data_stream_patterns = {"stream*"};
  FakeElasticsearch es(o);
  const auto answer = parse_object(call(es.port(), bulk(nd({R"({"index":{"_index":"logs-app-default"}})", "{}",
                                                            R"({"index":{"_index":"stream1"}})", doc})))
                                       .body);
  EXPECT_EQ(item(answer, 0).at("status"), 201);
  EXPECT_EQ(item(answer, 1).at("status"), 400);
}

TEST(FakeElasticsearch, create_with_existing_id_conflicts_and_index_replaces) {
  FakeElasticsearch es;
  const std::string create = nd({R"({"create":{"_index":"a","_id":"1"}})", R"({"v":1})"});
  EXPECT_EQ(first_item(es, create).at("status"), 201);
  const auto conflict = first_item(es, create);
  EXPECT_EQ(conflict.at("status"), 409);
  EXPECT_EQ(error_type(conflict), "version_conflict_engine_exception");
  EXPECT_EQ(error_reason(conflict), "[1]: version conflict, document already exists (current version [1])");
  const auto replaced = first_item(es, nd({R"({"index":{"_index":"a","_id":"1"}})", R"({"v":2})"}));
  EXPECT_EQ(replaced.at("status"), 200);
  EXPECT_EQ(replaced.at("result"), "updated");
  EXPECT_EQ(replaced.at("_version"), 2);
  EXPECT_EQ(es.documents("a").at(0).source.at("v"), 2);
  EXPECT_EQ(es.times_accepted("a", "1"), 2);
  EXPECT_EQ(es.duplicates(), (std::vector<std::pair<std::string, std::string>>{{"a", "1"}}));
}

TEST(FakeElasticsearch, dynamic_mapping_refuses_values_that_do_not_fit) {
  FakeElasticsearch es;
  auto send = [&](std::string_view source) { return first_item(es, nd({R"({"create":{"_index":"m"}})", source})); };
  EXPECT_EQ(send(R"({"n":1,"o":{"a":1},"t":"2024-05-02T10:15:30Z","b":true})").at("status"), 201);
  EXPECT_EQ(send(R"({"n":"12","b":"false","o.a":2})").at("status"), 201);  // coerced; a dotted path
  const auto number = send(R"({"n":"abc"})");
  EXPECT_EQ(number.at("status"), 400);
  EXPECT_NE(error_reason(number).find("failed to parse field [n] of type [long]"), std::string::npos);
  const auto object = send(R"({"o":"flat"})");
  EXPECT_EQ(object.at("status"), 400);
  EXPECT_NE(error_reason(object).find("object mapping for [o] tried to parse field [o] as object"), std::string::npos);
  EXPECT_EQ(send(R"({"n":{"x":1}})").at("status"), 400);
  EXPECT_EQ(send(R"({"t":"not a date"})").at("status"), 400);
  EXPECT_EQ(send(R"({"b":"maybe"})").at("status"), 400);
  EXPECT_EQ(send(R"({"new":"x","n":[1,2,3]})").at("status"), 201);
  EXPECT_EQ(es.document_count(), 3u);
}

TEST(FakeElasticsearch, total_fields_limit_is_enforced) {
  ElasticOptions o;
  o.total_fields_limit = 5;
  FakeElasticsearch es(o);
  EXPECT_EQ(first_item(es, nd({create_a, R"({"a":1,"b":2,"c":"x"})"})).at("status"), 201);  // 1 + 1 + 2 fields
  const auto over = first_item(es, nd({create_a, R"({"d":1,"e":2})"}));
  EXPECT_EQ(over.at("status"), 400);
  EXPECT_NE(error_reason(over).find("Limit of total fields [5] has been exceeded"), std::string::npos);
}

TEST(FakeElasticsearch, update_and_delete_behave_as_elasticsearch) {
  FakeElasticsearch es;
  ASSERT_EQ(call(es.port(), bulk(nd({R"({"index":{"_index":"a","_id":"1"}})", R"({"x":{"y":1},"z":1})"}))).status, 200);
  const auto answer = parse_object(
      call(es.port(), bulk(nd({R"({"update":{"_index":"a","_id":"1"}})", R"({"doc":{"x":{"w":2}}})",
                               R"({"update":{"_index":"a","_id":"1"}})", R"({"doc":{"z":1}})",
                               R"({"update":{"_index":"a","_id":"2"}})", R"({"doc":{"z":1}})",
                               R"({"update":{"_index":"a","_id":"3"}})", R"({"doc":{"z":3},"doc_as_upsert":true})",
                               R"({"delete":{"_index":"a","_id":"1"}})", R"({"delete":{"_index":"a","_id":"1"}})"})))
          .body);
  EXPECT_EQ(item(answer, 0).at("result"), "updated");
  EXPECT_EQ(item(answer, 0).at("_version"), 2);
  EXPECT_EQ(item(answer, 1).at("result"), "noop");
  EXPECT_EQ(item(answer, 2).at("status"), 404);
  EXPECT_EQ(error_type(item(answer, 2)), "document_missing_exception");
  EXPECT_EQ(item(answer, 3).at("status"), 201);
  EXPECT_EQ(item(answer, 4).at("result"), "deleted");
  EXPECT_EQ(item(answer, 5).at("status"), 404);
  EXPECT_EQ(item(answer, 5).at("result"), "not_found");
  EXPECT_FALSE(item(answer, 5).contains("error"));
  const auto docs = es.documents("a");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].id, "3");

  const auto on_stream = first_item(es, nd({R"({"delete":{"_index":"logs-a-b","_id":"1"}})"}));
  EXPECT_EQ(error_reason(on_stream), "only write ops with an op_type of create are allowed in data streams");
}

// ================================================================================================================
// Elasticsearch: faults

TEST(FakeElasticsearch, fail_next_requests_answers_whole_requests_then_recovers) {
  FakeElasticsearch es;
  const std::string body = nd({create_a, "{}"});
  es.fail_next_requests(2, {503, std::nullopt, {{"Retry-After", "1"}}});
  auto r = call(es.port(), bulk(body));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(top_error_type(r), "cluster_block_exception");
  EXPECT_EQ(header_of(r, "Retry-After"), "1");
  EXPECT_EQ(call(es.port(), bulk(body)).status, 503);
  EXPECT_EQ(call(es.port(), bulk(body)).status, 200);
  EXPECT_EQ(es.document_count(), 1u);

  es.fail_next_requests(1, {429, std::nullopt, {}});
  r = call(es.port(), bulk(body));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(top_error_type(r), "es_rejected_execution_exception");
  es.fail_next_requests(1, {401, std::nullopt, {}});
  r = call(es.port(), bulk(body));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(top_error_type(r), "security_exception");
  es.fail_next_requests(1, {502, std::nullopt, {}});
  r = call(es.port(), bulk(body));
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.body.find("502 Bad Gateway"), std::string::npos);
  es.fail_next_requests(1, {500, std::string("custom"), {}});
  EXPECT_EQ(call(es.port(), bulk(body)).body, "custom");
  EXPECT_EQ(call(es.port(), get()).status, 200);  // faults are for _bulk only
  EXPECT_EQ(es.document_count(), 1u);
  EXPECT_EQ(es.bulk_requests().at(0).refusal, "injected fault 503");
}

TEST(FakeElasticsearch, fail_while_answers_every_bulk_request_with_the_fault_while_the_predicate_holds) {
  FakeElasticsearch es;
  std::atomic<bool> failing = false;
  es.fail_while([&] { return failing.load(); }, {503, std::nullopt, {}});
  const std::string body = nd({create_a, "{}"});
  EXPECT_EQ(call(es.port(), bulk(body)).status, 200);
  failing = true;
  for (int i = 0; i < 3; ++i) {
    const auto r = call(es.port(), bulk(body));
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(top_error_type(r), "cluster_block_exception");
  }
  EXPECT_EQ(call(es.port(), get()).status, 200);  // for _bulk only
  EXPECT_EQ(es.document_count(), 1u);
  failing = false;
  EXPECT_EQ(call(es.port(), bulk(body)).status, 200);
  EXPECT_EQ(es.document_count(), 2u);
  failing = true;
  es.clear_faults();
  EXPECT_EQ(call(es.port(), bulk(body)).status, 200);
}

TEST(FakeElasticsearch, refuse_connections_while_a_file_exists_then_listens_again_on_the_same_port) {
  FakeElasticsearch es;
  FlagFile down;
  es.refuse_connections_while(down.exists());
  const std::string body = nd({create_a, "{}"});
  EXPECT_EQ(call(es.port(), bulk(body)).status, 200);
  down.set(true);
  ASSERT_TRUE(eventually([&] { return refused(es.port()); }));
  const auto r = exchange(es.port(), bulk(body), 1s);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("refused"), std::string::npos) << r.error().message;
  down.set(false);
  ASSERT_TRUE(eventually([&] { return !refused(es.port()); }));
  EXPECT_EQ(call(es.port(), bulk(body)).status, 200);
  EXPECT_EQ(es.document_count(), 2u);
  // clear_faults() opens the port too.
  down.set(true);
  ASSERT_TRUE(eventually([&] { return refused(es.port()); }));
  es.clear_faults();
  EXPECT_TRUE(eventually([&] { return !refused(es.port()); }));
}

TEST(FakeElasticsearch, refuse_connections_while_also_closes_a_pooled_keep_alive_connection) {
  FakeElasticsearch es;
  std::atomic<bool> down = false;
  es.refuse_connections_while([&] { return down.load(); });
  asio::io_context io;
  auto client = http::Client::make(io.get_executor(), *http::parse_url(es.url()), {},
                                   [](std::string_view) { return std::optional<std::string>(); });
  ASSERT_TRUE(client) << client.error().message;
  const auto send = [&] {
    auto fut = asio::co_spawn(io, (*client)->send(get(), std::chrono::steady_clock::now() + 2s), asio::use_future);
    io.restart();
    io.run();
    return fut.get();
  };
  ASSERT_TRUE(send().has_value());
  ASSERT_EQ((*client)->idle_connections(), 1u);
  down = true;
  ASSERT_TRUE(eventually([&] { return refused(es.port()); }));
  // The pooled connection was closed by the fake: the client retries on a new one, which is refused.
  const auto r = send();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, http::ClientError::Kind::connect) << r.error().message;
  down = false;
  EXPECT_TRUE(eventually([&] { return send().has_value(); }));
}

TEST(FakeElasticsearch, refuse_connections_while_holds_with_a_child_process_started_before) {
  FakeElasticsearch es;
  // A child started while the fake listens, keeping what it inherits (as std::system does).
  std::string sleep = "sleep", seconds = "30";
  char* argv[] = {sleep.data(), seconds.data(), nullptr};
  char* envp[] = {nullptr};
  pid_t child = -1;
  ASSERT_EQ(::posix_spawnp(&child, "sleep", nullptr, nullptr, argv, envp), 0);
  std::atomic<bool> down = true;
  es.refuse_connections_while([&] { return down.load(); });
  EXPECT_TRUE(eventually([&] { return refused(es.port()); }));
  down = false;
  EXPECT_TRUE(eventually([&] { return !refused(es.port()); }));
  EXPECT_EQ(call(es.port(), get()).status, 200);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

TEST(FakeElasticsearch, reject_next_items_answers_429_per_item) {
  FakeElasticsearch es;
  es.reject_next_items(2);
  const std::string three = nd({create_a, R"({"i":1})", create_a, R"({"i":2})", create_a, R"({"i":3})"});
  const auto r = call(es.port(), bulk(three));
  ASSERT_EQ(r.status, 200);
  const auto answer = parse_object(r.body);
  EXPECT_EQ(answer.at("errors"), true);
  EXPECT_EQ(item(answer, 0).at("status"), 429);
  EXPECT_EQ(error_type(item(answer, 0)), "es_rejected_execution_exception");
  EXPECT_EQ(item(answer, 1).at("status"), 429);
  EXPECT_EQ(item(answer, 2).at("status"), 201);
  EXPECT_EQ(es.document_count(), 1u);
  EXPECT_EQ(parse_object(call(es.port(), bulk(three)).body).at("errors"), false);
}

TEST(FakeElasticsearch, reject_items_where_predicate_matches) {
  FakeElasticsearch es;
  es.reject_items_where([](const json::object& d) { return d.contains("slow"); });
  const auto answer =
      parse_object(call(es.port(), bulk(nd({create_a, R"({"slow":1})", create_a, R"({"fast":1})"}))).body);
  EXPECT_EQ(item(answer, 0).at("status"), 429);
  EXPECT_EQ(item(answer, 1).at("status"), 201);
  es.clear_faults();
  EXPECT_EQ(first_item(es, nd({create_a, R"({"slow":1})"})).at("status"), 201);
}

TEST(FakeElasticsearch, mapping_error_where_predicate_matches) {
  FakeElasticsearch es;
  es.mapping_error_where([](const json::object& d) { return d.contains("bad"); });
  const auto answer =
      parse_object(call(es.port(), bulk(nd({create_a, R"({"bad":1})", create_a, R"({"good":1})"}))).body);
  EXPECT_EQ(item(answer, 0).at("status"), 400);
  EXPECT_EQ(error_type(item(answer, 0)), "document_parsing_exception");
  EXPECT_EQ(item(answer, 1).at("status"), 201);
  EXPECT_EQ(es.items().at(0).error_type, "document_parsing_exception");
}

TEST(FakeElasticsearch, opensearch_flavor_uses_its_error_types) {
  ElasticOptions o;
  o.flavor = ElasticOptions::Flavor::opensearch;
  FakeElasticsearch os(o);
  os.reject_next_items(1);
  const auto answer = parse_object(call(os.port(), bulk(nd({create_a, "{}", create_a, "[]"}))).body);
  EXPECT_EQ(error_type(item(answer, 0)), "rejected_execution_exception");
  EXPECT_EQ(error_type(item(answer, 1)), "mapper_parsing_exception");
}

TEST(FakeElasticsearch, slow_mode_stores_then_answers_after_the_client_gave_up) {
  FakeElasticsearch es;
  es.set_response_delay(800ms);
  const auto r = exchange(es.port(), bulk(nd({create_a, "{}"})), 200ms);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, http::ClientError::Kind::timeout);
  EXPECT_TRUE(es.wait_for_documents(1, 2s));
  es.set_response_delay(0ms);
  EXPECT_EQ(call(es.port(), get()).status, 200);
}

// ================================================================================================================
// Elasticsearch: authentication

TEST(FakeElasticsearch, basic_auth_is_required_when_configured) {
  ElasticOptions o;
  o.auth = ElasticAuth::basic("elastic", "changeme");
  FakeElasticsearch es(o);
  const std::string body = nd({create_a, "{}"});
  auto r = call(es.port(), bulk(body));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(top_error_type(r), "security_exception");
  EXPECT_EQ(top_error_reason(r), "missing authentication credentials for REST request [/_bulk]");
  EXPECT_NE(header_of(r, "WWW-Authenticate").find("Basic realm=\"security\""), std::string::npos);
  auto wrong = bulk(body);
  wrong.headers.push_back({"Authorization", "Basic " + base64_encode("elastic:nope")});
  r = call(es.port(), wrong);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(top_error_reason(r), "unable to authenticate user [elastic] for REST request [/_bulk]");
  auto right = bulk(body);
  right.headers.push_back({"Authorization", "Basic " + base64_encode("elastic:changeme")});
  EXPECT_EQ(call(es.port(), right).status, 200);
  EXPECT_EQ(call(es.port(), get()).status, 401);  // GET / too
  EXPECT_EQ(es.document_count(), 1u);
}

TEST(FakeElasticsearch, opensearch_basic_auth_refusal_is_plain_unauthorized) {
  ElasticOptions o;
  o.flavor = ElasticOptions::Flavor::opensearch;
  o.auth = ElasticAuth::basic("admin", "admin");
  FakeElasticsearch os(o);
  const auto r = call(os.port(), get());
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "Unauthorized");
  EXPECT_EQ(header_of(r, "WWW-Authenticate"), "Basic realm=\"OpenSearch Security\"");
}

TEST(FakeElasticsearch, api_key_auth_is_required_when_configured) {
  FakeElasticsearch es;
  const std::string key = base64_encode("VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw");
  es.set_auth(ElasticAuth::api_key_auth(key));
  const std::string body = nd({create_a, "{}"});
  EXPECT_EQ(call(es.port(), bulk(body)).status, 401);
  auto wrong = bulk(body);
  wrong.headers.push_back({"Authorization", "ApiKey " + base64_encode("x:y")});
  EXPECT_EQ(call(es.port(), wrong).status, 401);
  auto right = bulk(body);
  right.headers.push_back({"Authorization", "ApiKey " + key});
  EXPECT_EQ(call(es.port(), right).status, 200);
}

// SigV4: requests signed by our signer, then sent as signed (http::send adds only Content-Length).
struct Signer {
  std::string service = "es";
  std::string region = "eu-west-1";
  aws::Credentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();

  http::Request sign(http::Request req, const std::string& host) const {
    auto s = aws::sign(req, host, creds, aws::SigningParams{region, service, time, false, true});
    if (!s) ADD_FAILURE() << s.error().message;
    return req;
  }
};

ElasticOptions sigv4_options(const Signer& s, std::string token = "") {
  ElasticOptions o;
  o.auth = ElasticAuth::sigv4(s.service, s.region, s.creds.access_key_id, s.creds.secret_access_key, std::move(token));
  return o;
}

TEST(FakeElasticsearch, sigv4_accepts_a_correctly_signed_request) {
  Signer s;
  FakeElasticsearch es(sigv4_options(s));
  const auto r = call(es.port(), s.sign(bulk(nd({create_a, "{}"}), "/_bulk?refresh=false"), es.host()));
  EXPECT_EQ(r.status, 200) << r.body << "\n" << es.requests().back().refusal;
  EXPECT_EQ(call(es.port(), s.sign(get(), es.host())).status, 200);
}

TEST(FakeElasticsearch, sigv4_refuses_a_wrong_secret_or_a_changed_body) {
  Signer s;
  FakeElasticsearch es(sigv4_options(s));
  Signer wrong = s;
  wrong.creds.secret_access_key = "not-the-secret";
  const auto r = call(es.port(), wrong.sign(bulk(nd({create_a, "{}"})), es.host()));
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(parse_object(r.body).at("message").as_string().starts_with("The request signature we calculated"));
  EXPECT_NE(es.requests().back().refusal.find("canonical request"), std::string::npos);

  auto changed = s.sign(bulk(nd({create_a, "{}"})), es.host());
  changed.body = nd({R"({"create":{"_index":"b"}})", "{}"});
  EXPECT_EQ(call(es.port(), changed).status, 403);
  EXPECT_EQ(es.document_count(), 0u);
}

TEST(FakeElasticsearch, sigv4_checks_scope_key_and_clock) {
  Signer s;
  FakeElasticsearch es(sigv4_options(s));
  const auto req = bulk(nd({create_a, "{}"}));
  auto message_for = [&](const Signer& signer) {
    const auto r = call(es.port(), signer.sign(req, es.host()));
    EXPECT_EQ(r.status, 403);
    return std::string(parse_object(r.body).at("message").as_string());
  };
  Signer other = s;
  other.service = "aoss";
  EXPECT_EQ(message_for(other), "Credential should be scoped to correct service: 'es'. ");
  other = s;
  other.region = "us-east-1";
  EXPECT_EQ(message_for(other), "Credential should be scoped to a valid region. ");
  other = s;
  other.creds.access_key_id = "AKIDOTHER";
  EXPECT_EQ(message_for(other), "The security token included in the request is invalid.");
  other = s;
  other.time -= 20min;
  EXPECT_TRUE(message_for(other).starts_with("Signature expired: "));
  const auto unsigned_answer = call(es.port(), req);
  EXPECT_EQ(unsigned_answer.status, 403);
  EXPECT_EQ(parse_object(unsigned_answer.body).at("Message"),
            "User: anonymous is not authorized to perform: es:ESHttpPost because no resource-based policy allows the "
            "es:ESHttpPost action");
}

TEST(FakeElasticsearch, sigv4_session_token_must_be_sent_and_signed) {
  Signer s;
  s.creds.session_token = "FwoGZXIvYXdzEXAMPLE";
  FakeElasticsearch es(sigv4_options(s, s.creds.session_token));
  EXPECT_EQ(call(es.port(), s.sign(bulk(nd({create_a, "{}"})), es.host())).status, 200);
  Signer without = s;
  without.creds.session_token.clear();
  const auto r = call(es.port(), without.sign(bulk(nd({create_a, "{}"})), es.host()));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(parse_object(r.body).at("message"), "The security token included in the request is invalid.");
}

TEST(FakeElasticsearch, sigv4_for_aoss_needs_the_content_sha256_header) {
  Signer s;
  s.service = "aoss";
  FakeElasticsearch es(sigv4_options(s));
  const auto signed_req = s.sign(bulk(nd({create_a, "{}"})), es.host());
  ASSERT_TRUE(signed_req.header("x-amz-content-sha256").has_value());
  EXPECT_EQ(call(es.port(), signed_req).status, 200) << es.requests().back().refusal;

  auto tampered = signed_req;
  tampered.body = nd({R"({"create":{"_index":"b"}})", "{}"});
  const auto r = call(es.port(), tampered);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(parse_object(r.body).at("message"),
            "The provided 'x-amz-content-sha256' header does not match what was computed.");

  auto stripped = signed_req;
  std::erase_if(stripped.headers, [](const http::Header& h) { return http::iequals(h.name, "x-amz-content-sha256"); });
  EXPECT_EQ(call(es.port(), stripped).status, 403);
  EXPECT_EQ(es.document_count(), 1u);
}

// ================================================================================================================
// Logstash http input

http::Request logstash_post(std::string body, std::string content_type = "application/x-ndjson") {
  return post("/", std::move(body), std::move(content_type));
}

TEST(FakeLogstashHttp, ndjson_lines_become_events_and_a_bad_line_is_tagged) {
  FakeLogstashHttp ls;
  const auto r = call(ls.port(), logstash_post(nd({R"({"a":1})", "not json", "", R"({"b":2})"})));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(header_of(r, "Content-Type"), "text/plain");
  const auto events = ls.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].at("a"), 1);
  EXPECT_EQ(events[1].at("message"), "not json");
  EXPECT_EQ(events[1].at("tags"), json::array{"_jsonparsefailure"});
  EXPECT_EQ(events[2].at("b"), 2);
  EXPECT_EQ(ls.parse_failures(), std::vector<std::string>{"not json"});
  EXPECT_EQ(ls.codecs(), std::vector<std::string>{"json_lines"});
}

TEST(FakeLogstashHttp, ndjson_last_line_without_newline_is_still_decoded) {
  FakeLogstashHttp ls;
  EXPECT_EQ(call(ls.port(), logstash_post("{\"a\":1}\n{\"b\":2}")).status, 200);
  EXPECT_EQ(ls.event_count(), 2u);
}

TEST(FakeLogstashHttp, json_array_becomes_one_event_per_element) {
  FakeLogstashHttp ls;
  EXPECT_EQ(call(ls.port(), logstash_post(R"([{"a":1},{"a":2}])", "application/json")).status, 200);
  EXPECT_EQ(call(ls.port(), logstash_post(R"({"a":3})", "application/json; charset=utf-8")).status, 200);
  EXPECT_EQ(call(ls.port(), logstash_post(R"([{"a":4},5])", "application/json")).status, 200);
  const auto events = ls.events();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[2].at("a"), 3);
  EXPECT_EQ(events[3].at("message"), R"([{"a":4},5])");
  EXPECT_EQ(ls.codecs(), (std::vector<std::string>{"json", "json", "json"}));
}

TEST(FakeLogstashHttp, other_content_types_fall_back_to_the_plain_codec) {
  FakeLogstashHttp ls;
  EXPECT_EQ(call(ls.port(), logstash_post(nd({R"({"a":1})"}), "text/plain")).status, 200);
  EXPECT_EQ(call(ls.port(), logstash_post(nd({R"({"a":1})"}), "Application/X-NDJSON")).status, 200);  // case kept
  EXPECT_EQ(call(ls.port(), logstash_post(nd({R"({"a":1})"}), "application/x-ndjson; charset=UTF-8")).status, 200);
  const auto events = ls.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].at("message"), "{\"a\":1}\n");
  EXPECT_EQ(events[2].at("a"), 1);
  EXPECT_EQ(ls.codecs(), (std::vector<std::string>{"plain", "plain", "json_lines"}));

  LogstashHttpOptions only_ndjson;
  only_ndjson.json_codec = false;
  FakeLogstashHttp ls2(only_ndjson);
  EXPECT_EQ(call(ls2.port(), logstash_post(R"([{"a":1}])", "application/json")).status, 200);
  EXPECT_EQ(ls2.codecs(), std::vector<std::string>{"plain"});
}

TEST(FakeLogstashHttp, timestamp_that_is_not_iso8601_is_moved_and_tagged) {
  FakeLogstashHttp ls;
  const auto body = nd({R"({"@timestamp":"2024-05-02T10:15:30.520Z"})", R"({"@timestamp":12345})"});
  ASSERT_EQ(call(ls.port(), logstash_post(body)).status, 200);
  const auto events = ls.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].at("@timestamp"), "2024-05-02T10:15:30.520Z");
  EXPECT_FALSE(events[1].contains("@timestamp"));
  EXPECT_EQ(events[1].at("_@timestamp"), 12345);
  EXPECT_EQ(events[1].at("tags"), json::array{"_timestampparsefailure"});
}

TEST(FakeLogstashHttp, basic_auth_is_required_when_configured) {
  LogstashHttpOptions o;
  o.user = "shipper";
  o.password = "s3cret";
  FakeLogstashHttp ls(o);
  auto r = call(ls.port(), logstash_post("{}\n"));
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(header_of(r, "WWW-Authenticate"), "Basic realm=\"Logstash HTTP Input\"");
  auto wrong = logstash_post("{}\n");
  wrong.headers.push_back({"Authorization", "Basic " + base64_encode("shipper:nope")});
  r = call(ls.port(), wrong);
  EXPECT_EQ(r.status, 401);
  EXPECT_FALSE(r.header("WWW-Authenticate").has_value());
  auto right = logstash_post("{}\n");
  right.headers.push_back({"Authorization", "Basic " + base64_encode("shipper:s3cret")});
  EXPECT_EQ(call(ls.port(), right).status, 200);
  EXPECT_EQ(ls.event_count(), 1u);
}

TEST(FakeLogstashHttp, fail_next_requests_answers_429_or_503_then_recovers) {
  FakeLogstashHttp ls;
  ls.fail_next_requests(2, {429, std::nullopt, {}});
  const auto r = call(ls.port(), logstash_post("{}\n"));
  EXPECT_EQ(r.status, 429);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(call(ls.port(), logstash_post("{}\n")).status, 429);
  EXPECT_EQ(call(ls.port(), logstash_post("{}\n")).status, 200);
  ls.fail_next_requests(1, {503, std::nullopt, {}});
  EXPECT_EQ(call(ls.port(), logstash_post("{}\n")).status, 503);
  EXPECT_EQ(ls.event_count(), 1u);
  EXPECT_EQ(ls.requests().size(), 4u);
}

TEST(FakeLogstashHttp, fail_while_and_refuse_connections_while_work_as_for_elasticsearch) {
  FakeLogstashHttp ls;
  std::atomic<bool> failing = false;
  FlagFile down;
  ls.fail_while([&] { return failing.load(); }, {503, std::nullopt, {}});
  ls.refuse_connections_while(down.exists());
  failing = true;
  EXPECT_EQ(call(ls.port(), logstash_post("{}\n")).status, 503);
  failing = false;
  EXPECT_EQ(call(ls.port(), logstash_post("{}\n")).status, 200);
  down.set(true);
  ASSERT_TRUE(eventually([&] { return refused(ls.port()); }));
  down.set(false);
  ASSERT_TRUE(eventually([&] { return !refused(ls.port()); }));
  EXPECT_EQ(call(ls.port(), logstash_post("{}\n")).status, 200);
  EXPECT_EQ(ls.event_count(), 2u);
}

TEST(FakeLogstashHttp, gzip_bodies_are_inflated_and_corrupt_ones_refused) {
  FakeLogstashHttp ls;
  auto req = logstash_post(gzip_compress(nd({R"({"a":1})", R"({"a":2})"})));
  req.headers.push_back({"Content-Encoding", "gzip"});
  EXPECT_EQ(call(ls.port(), req).status, 200);
  EXPECT_EQ(ls.event_count(), 2u);
  req.body = "garbage";
  EXPECT_EQ(call(ls.port(), req).status, 400);
  EXPECT_EQ(ls.event_count(), 2u);
}

TEST(FakeLogstashHttp, slow_mode_stores_then_answers_late) {
  FakeLogstashHttp ls;
  ls.set_response_delay(800ms);
  const auto r = exchange(ls.port(), logstash_post("{}\n"), 200ms);
  EXPECT_FALSE(r.has_value());
  EXPECT_TRUE(ls.wait_for_events(1, 2s));
}

// ================================================================================================================
// Logstash tcp input

// Connects and writes `text`; with `half_close`, then shuts down sending. Returns when the fake has closed.
void tcp_send(std::uint16_t port, const std::string& text, bool half_close = true) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  boost::system::error_code ec;
  asio::write(socket, asio::buffer(text), ec);
  if (half_close) socket.shutdown(tcp::socket::shutdown_send, ec);
  char c;
  socket.read_some(asio::buffer(&c, 1), ec);  // EOF (or a reset) once the fake closes
}

TEST(FakeLogstashTcp, lines_become_events_and_a_bad_line_is_tagged) {
  FakeLogstashTcp ls;
  tcp_send(ls.port(), "{\"a\":1}\n\nnope\n{\"b\":2}\r\n");
  ASSERT_TRUE(ls.wait_for_closed_connections(1, 2s));
  const auto events = ls.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].at("a"), 1);
  EXPECT_EQ(events[1].at("tags"), json::array{"_jsonparsefailure"});
  EXPECT_EQ(events[2].at("b"), 2);
  EXPECT_EQ(ls.parse_failures(), std::vector<std::string>{"nope"});
  EXPECT_TRUE(ls.partial_lines().empty());
  EXPECT_EQ(ls.connections(), 1u);
}

TEST(FakeLogstashTcp, unterminated_last_line_is_recorded_as_partial_not_as_event) {
  FakeLogstashTcp ls;
  tcp_send(ls.port(), "{\"a\":1}\n{\"b\":");
  ASSERT_TRUE(ls.wait_for_closed_connections(1, 2s));
  EXPECT_EQ(ls.event_count(), 1u);
  EXPECT_EQ(ls.partial_lines(), std::vector<std::string>{"{\"b\":"});
}

TEST(FakeLogstashTcp, close_after_lines_closes_one_connection_then_recovers) {
  FakeLogstashTcp ls;
  ls.close_after_lines(2);
  tcp_send(ls.port(), nd({R"({"i":1})", R"({"i":2})", R"({"i":3})", R"({"i":4})"}), false);
  ASSERT_TRUE(ls.wait_for_closed_connections(1, 2s));
  EXPECT_EQ(ls.event_count(), 2u);
  EXPECT_EQ(ls.closed_by_fault(), 1u);
  tcp_send(ls.port(), nd({R"({"i":5})", R"({"i":6})", R"({"i":7})"}));
  ASSERT_TRUE(ls.wait_for_closed_connections(2, 2s));
  EXPECT_EQ(ls.event_count(), 5u);
  EXPECT_EQ(ls.closed_by_fault(), 1u);
}

TEST(FakeLogstashTcp, close_after_lines_on_every_connection) {
  FakeLogstashTcp ls;
  ls.close_after_lines(1, true);
  tcp_send(ls.port(), nd({R"({"i":1})", R"({"i":2})"}), false);
  tcp_send(ls.port(), nd({R"({"i":3})", R"({"i":4})"}), false);
  ASSERT_TRUE(ls.wait_for_closed_connections(2, 2s));
  EXPECT_EQ(ls.event_count(), 2u);
  EXPECT_EQ(ls.closed_by_fault(), 2u);
}

// ================================================================================================================
// Shared codecs

TEST(FakeCodecs, base64_round_trips_and_refuses_malformed_text) {
  for (const std::string s : {"", "a", "ab", "abc", "abcd", "user:pass"})
    EXPECT_EQ(base64_decode(base64_encode(s)).value_or("?"), s);
  EXPECT_EQ(base64_encode("elastic:changeme"), "ZWxhc3RpYzpjaGFuZ2VtZQ==");
  EXPECT_FALSE(base64_decode("abc").has_value());
  EXPECT_FALSE(base64_decode("ab=c").has_value());
}

TEST(FakeCodecs, strict_date_optional_time) {
  for (const std::string s : {"2024-05-02", "2024-05-02T10:15", "2024-05-02T10:15:30.520Z", "2024-05-02T10:15:30+02:00",
                              "2024-05-02T10:15:30.123456789-0530"})
    EXPECT_TRUE(is_strict_date_optional_time(s)) << s;
  for (const std::string s : {"2024-5-02", "2024-05-02 10:15:30", "yesterday", "2024-13-01", "2024-05-02T10:15:30ZZ"})
    EXPECT_FALSE(is_strict_date_optional_time(s)) << s;
}

TEST(FakeCodecs, duplicate_keys_are_found_per_object) {
  EXPECT_EQ(find_duplicate_key(R"({"a":1,"b":{"a":2}})"), std::nullopt);
  EXPECT_EQ(find_duplicate_key(R"({"a":1,"b":[{"c":1,"c":2}]})"), "c");
  EXPECT_EQ(find_duplicate_key(R"({"a\"":1,"a\"":2})"), "a\\\"");
}

TEST(FakeCodecs, utf8_repair_replaces_invalid_sequences) {
  EXPECT_EQ(repair_utf8("ok \xc3\xa9"), "ok \xc3\xa9");
  EXPECT_EQ(repair_utf8("a\xff"
                        "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(repair_utf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
}

}  // namespace
}  // namespace elk::fakes
