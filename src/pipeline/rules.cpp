#include "pipeline/rules.h"

namespace elk::pipeline {
namespace {

namespace names = config::names;

bool is_upper_alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}
bool iequal_at(std::string_view s, std::size_t i, std::string_view word) {
  if (i + word.size() > s.size()) return false;
  for (std::size_t k = 0; k < word.size(); ++k) {
    char a = s[i + k];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != word[k]) return false;
  }
  return true;
}

// AWS access key ids: AKIA (long-term) or ASIA (temporary) and 16 upper-case letters or digits.
bool redact_access_keys(std::string& m) {
  bool changed = false;
  for (std::size_t i = 0; i + 20 <= m.size(); ++i) {
    if (m[i] != 'A' || (m[i + 1] != 'K' && m[i + 1] != 'S') || m[i + 2] != 'I' || m[i + 3] != 'A') continue;
    if (i > 0 && is_upper_alnum(m[i - 1])) continue;
    std::size_t k = 4;
    while (k < 20 && is_upper_alnum(m[i + k])) ++k;
    if (k < 20 || (i + 20 < m.size() && is_upper_alnum(m[i + 20]))) continue;
    m.replace(i, 20, redacted_marker);
    changed = true;
  }
  return changed;
}

// The token of "Authorization: Bearer <token>" (any case; also "authorization":"Bearer ..." and
// authorization=Bearer ...). A bare "bearer" in prose is left alone.
bool redact_bearer(std::string& m) {
  bool changed = false;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (!iequal_at(m, i, "authorization")) continue;
    std::size_t b = i + 13;
    while (b < m.size() && (m[b] == '"' || m[b] == '\'' || m[b] == ':' || m[b] == '=' || m[b] == ' ' || m[b] == '\t'))
      ++b;
    if (!iequal_at(m, b, "bearer") || b + 6 >= m.size() || (m[b + 6] != ' ' && m[b + 6] != '\t')) continue;
    b += 6;
    while (b < m.size() && (m[b] == ' ' || m[b] == '\t')) ++b;
    std::size_t e = b;
    while (e < m.size() && is_token_char(m[e])) ++e;
    if (e == b) continue;
    m.replace(b, e - b, redacted_marker);
    changed = true;
    i = b + redacted_marker.size() - 1;
  }
  return changed;
}

std::optional<Pattern> regex_of(const config::Config& c, std::string_view name) {
  if (!c.has(name) || c.text(name).empty()) return std::nullopt;
  auto p = Pattern::compile(c.text(name));
  if (!p) return std::nullopt;  // unreachable: config::load refused it
  return std::move(*p);
}

}  // namespace

bool Rules::keep(std::string_view message) const {
  if (include && !include->search(message)) return false;
  if (exclude && exclude->search(message)) return false;
  return true;
}

bool Rules::apply_redactions(std::string& message) const {
  bool changed = false;
  if (redact && redact->replace_all(message, redacted_marker) > 0) changed = true;
  if (redact_aws_access_keys) changed |= redact_access_keys(message);
  if (redact_bearer_tokens) changed |= redact_bearer(message);
  return changed;
}

Rules rules_from(const config::Config& c) {
  Rules r;
  r.include = regex_of(c, names::include);
  r.exclude = regex_of(c, names::exclude);
  r.redact = regex_of(c, names::redact);
  if (c.has(names::redact_builtin))
    for (const auto b : c.choices<config::BuiltinRedaction>(names::redact_builtin, config::builtin_redactions)) {
      if (b == config::BuiltinRedaction::aws_access_key_id) r.redact_aws_access_keys = true;
      if (b == config::BuiltinRedaction::bearer_token) r.redact_bearer_tokens = true;
    }
  if (c.has(names::max_record_bytes))
    r.max_message_bytes = static_cast<std::size_t>(c.integer(names::max_record_bytes));
  return r;
}

std::optional<std::size_t> truncate_message(std::string& message, std::size_t max_bytes) {
  if (message.size() <= max_bytes) return std::nullopt;
  const auto original = message.size();
  std::size_t cut = max_bytes;
  // Step back over UTF-8 continuation bytes so that no character is split.
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
  message.resize(cut);
  message += truncated_marker;
  return original;
}

}  // namespace elk::pipeline
