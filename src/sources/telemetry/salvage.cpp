#include "sources/telemetry/salvage.h"

#include <cstdint>
#include <vector>

#include "json/text.h"
#include "sources/telemetry/parse.h"

namespace elk::telemetry::detail {

namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The code unit of a \uXXXX escape whose backslash is at text[i], or -1.
long escape_unit(std::string_view text, std::size_t i) {
  if (i + 6 > text.size() || text[i] != '\\' || text[i + 1] != 'u') return -1;
  long v = 0;
  for (std::size_t k = 2; k < 6; ++k) {
    const int d = hex_digit(text[i + k]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

void put_escaped_control(std::string& out, unsigned char c) {
  static constexpr char hex[] = "0123456789abcdef";
  out += "\\u00";
  out += hex[c >> 4];
  out += hex[c & 15];
}

// The end of the JSON string whose opening quote is at text[i]: the index past its closing quote, or
// text.size() when it is not closed.
std::size_t string_end(std::string_view text, std::size_t i) {
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      return i + 1;
    }
  }
  return text.size();
}

// Where the item starting at text[i] ends: at a ',' or ']' outside any string and container, or at the end.
// A closing bracket that does not match the innermost open one closes up to the one it matches (a bracket
// without a match is passed over), so that a damaged item ends near where it was meant to.
std::size_t item_end(std::string_view text, std::size_t i) {
  std::vector<char> open;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {
      i = string_end(text, i);
      continue;
    }
    if (c == '{' || c == '[') {
      open.push_back(c == '{' ? '}' : ']');
    } else if (c == '}' || c == ']') {
      if (open.empty()) {
        if (c == ']') return i;
      } else {
        std::size_t k = open.size();
        while (k > 0 && open[k - 1] != c) --k;
        if (k > 0) open.resize(k - 1);
      }
    } else if (c == ',' && open.empty()) {
      return i;
    }
    ++i;
  }
  return i;
}

}  // namespace

std::string repair_strings(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '"') {
      out += text[i++];
      continue;
    }
    out += text[i++];
    while (i < text.size()) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c == '"') {
        out += text[i++];
        break;
      }
      if (c == '\\') {
        const char e = i + 1 < text.size() ? text[i + 1] : '\0';
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
          out.append(text, i, 2);
          i += 2;
        } else if (const long u = escape_unit(text, i); u < 0) {
          out += "\\\\";  // the backslash stands for itself; what follows is read as text
          ++i;
        } else if (u >= 0xD800 && u <= 0xDBFF) {
          const long next = escape_unit(text, i + 6);
          if (next >= 0xDC00 && next <= 0xDFFF) {
            out.append(text, i, 12);
            i += 12;
          } else {
            out += "\\ufffd";
            i += 6;
          }
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
          out += "\\ufffd";
          i += 6;
        } else {
          out.append(text, i, 6);
          i += 6;
        }
      } else if (c < 0x20) {
        put_escaped_control(out, c);
        ++i;
      } else if (c >= 0x80) {
        const auto n = json_text::utf8_sequence(text.data() + i, text.data() + text.size());
        if (n == 0) {
          out += "\xEF\xBF\xBD";
          ++i;
        } else {
          out.append(text, i, n);
          i += n;
        }
      } else {
        out += text[i++];
      }
    }
  }
  return out;
}

std::string flatten_deeper_than(std::string_view text, std::size_t max_depth) {
  std::string out;
  out.reserve(text.size() + 16);
  std::size_t depth = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {
      const auto end = string_end(text, i);
      out.append(text, i, end - i);
      i = end;
    } else if ((c == '{' || c == '[') && depth == max_depth) {
      // This container and everything in it, as a string of its text.
      std::size_t end = i;
      std::size_t inner = 0;
      while (end < text.size()) {
        const char d = text[end];
        if (d == '"') {
          end = string_end(text, end);
          continue;
        }
        ++end;
        if (d == '{' || d == '[') {
          ++inner;
        } else if ((d == '}' || d == ']') && --inner == 0) {
          break;
        }
      }
      out += '"';
      for (std::size_t k = i; k < end; ++k) {
        const auto b = static_cast<unsigned char>(text[k]);
        if (b == '"' || b == '\\') {
          out += '\\';
          out += text[k];
        } else if (b < 0x20) {
          put_escaped_control(out, b);
        } else {
          out += text[k];
        }
      }
      out += '"';
      i = end;
    } else {
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && depth > 0) --depth;
      out += c;
      ++i;
    }
  }
  return out;
}

std::optional<Salvaged> salvage_items(std::string_view body) {
  std::size_t i = 0;
  while (i < body.size() && is_ws(body[i])) ++i;
  if (i == body.size() || body[i] != '[') return std::nullopt;
  ++i;
  Salvaged out;
  out.body.reserve(body.size() + 2);
  out.body += '[';
  bool first = true;
  const auto keep = [&](std::string_view item) {
    if (!first) out.body += ',';
    first = false;
    out.body += item;
  };
  while (i < body.size()) {
    const auto end = item_end(body, i);
    const auto item = trim(body.substr(i, end - i));
    const bool last = end == body.size() || body[end] == ']';
    if (item.empty()) {
      if (!(last && first)) ++out.unreadable;  // `[]` is an empty array, `[,` or `,,` an item missing
    } else if (valid_item(item)) {
      keep(item);
    } else if (const auto repaired = repair_strings(item); valid_item(repaired)) {
      keep(repaired);
      ++out.repaired;
    } else if (const auto flat = flatten_deeper_than(repaired, kMaxItemDepth); valid_item(flat)) {
      keep(flat);
      ++out.repaired;
    } else {
      ++out.unreadable;
    }
    if (last) break;
    i = end + 1;
  }
  out.body += ']';
  return out;
}

}  // namespace elk::telemetry::detail
