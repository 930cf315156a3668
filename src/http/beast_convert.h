// Conversions between our plain messages and Beast's. Included only by client.cpp and server.cpp.
#pragma once

#include <boost/beast/http.hpp>

#include "http/message.h"

namespace elk::http::detail {

namespace bhttp = boost::beast::http;

template <class Fields>
std::vector<Header> to_headers(const Fields& fields) {
  std::vector<Header> out;
  for (const auto& f : fields) out.push_back({std::string(f.name_string()), std::string(f.value())});
  return out;
}

template <class Message>
void add_headers(Message& m, const std::vector<Header>& headers) {
  for (const auto& h : headers) m.set(h.name, h.value);
}

}  // namespace elk::http::detail
