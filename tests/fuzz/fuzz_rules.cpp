// libFuzzer target: a user pattern (the input's first line) applied by the processing rules to a message
// (the rest): compiling never crashes (a bad pattern is an error value), matching and redacting never crash
// or stall (RE2: linear time), and redaction only ever changes a message that the pattern matches.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "check.h"
#include "core/pattern.h"
#include "pipeline/rules.h"

using elk::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  const std::string_view pattern = input.substr(0, nl);
  const std::string_view message = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  auto compiled = elk::Pattern::compile(pattern);
  if (!compiled) {
    check(!compiled.error().message.empty(), "a refused pattern says why");
    return 0;
  }
  elk::pipeline::Rules rules;
  rules.include = *compiled;
  rules.exclude = *compiled;
  rules.redact = *compiled;
  const bool matches = compiled->search(message);
  check(rules.keep(message) == false, "a message is either not included or excluded by the same pattern");
  std::string redacted(message);
  const bool changed = rules.apply_redactions(redacted);
  check(changed == matches, "redaction changes exactly the messages the pattern matches");
  if (!matches) check(redacted == message, "an unmatched message is left as it is");
  return 0;
}
