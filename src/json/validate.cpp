#include "json/validate.h"

#include <boost/json/array.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <cstdint>

#include "json/string_scan.h"

namespace elk::json_text {

namespace json = boost::json;

namespace {

// A basic_parser handler that builds nothing: Boost.JSON's own verdict on a value, with the limits
// of the DOM parser (boost/json/detail/handler.hpp), so that what it accepts is what json::parse accepts.
struct Validator {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t, json::error_code&) { return true; }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

}  // namespace

const char* skip_value(const char* p, const char* end, std::size_t max_depth) {
  json::parse_options options;
  options.max_depth = max_depth;
  json::basic_parser<Validator> validator(options);
  json::error_code ec;
  const auto n = validator.write_some(false, p, static_cast<std::size_t>(end - p), ec);
  if (ec) return nullptr;
  return p + n;
}

bool valid_value(std::string_view text, std::size_t max_depth) {
  const char* const end = text.data() + text.size();
  const char* p = skip_value(text.data(), end, max_depth);
  if (p == nullptr) return false;
  for (; p != end; ++p)
    if (!is_ws(*p)) return false;
  return true;
}

}  // namespace elk::json_text
