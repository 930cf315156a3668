#include "config/settings.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "../test_util.h"
#include "destinations/registry.h"

namespace elk::config {
namespace {

Getenv env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Loaded load_with(std::map<std::string, std::string> vars) {
  if (!vars.contains("EXTENSION_LOG_DESTINATIONS")) vars["EXTENSION_LOG_DESTINATIONS"] = "file";
  if (!vars.contains("EXTENSION_LOG_DESTINATION_FILE_DIRECTORY"))
    vars["EXTENSION_LOG_DESTINATION_FILE_DIRECTORY"] = "/tmp/x";
  return load(destinations::all_settings(), env_of(std::move(vars)));
}

TEST(Settings, UnsetSettingsTakeTheirDefaults) {
  const auto l = load_with({});
  EXPECT_TRUE(l.errors.empty());
  EXPECT_TRUE(l.warnings.empty());
  EXPECT_EQ(l.config.integer(names::max_items), 10000);
  EXPECT_EQ(l.config.integer(names::timeout_ms), 1000);
  EXPECT_EQ(l.config.integer(names::max_bytes), 262144);
  EXPECT_EQ(l.config.integer(names::listener_port), 4243);
  EXPECT_EQ(l.config.integer(names::runtime_done_wait_ms), 500);
  EXPECT_EQ(l.config.list(names::types), (std::vector<std::string>{"platform", "function"}));
}

struct ClampCase {
  std::string name, given, used, warning;
};

class Clamping : public ::testing::TestWithParam<ClampCase> {};

TEST_P(Clamping, OutOfRangeIsClampedToTheNearestBoundWithOneWarning) {
  const auto& c = GetParam();
  const auto l = load_with({{c.name, c.given}});
  EXPECT_TRUE(l.errors.empty());
  EXPECT_EQ(l.config.text(c.name), c.used);
  ASSERT_EQ(l.warnings.size(), 1u);
  EXPECT_EQ(l.warnings[0], c.warning);
}

INSTANTIATE_TEST_SUITE_P(
    SeedBufferingVariables, Clamping,
    ::testing::Values(
        ClampCase{"EXTENSION_LOG_MAX_ITEMS", "50", "1000",
                  "EXTENSION_LOG_MAX_ITEMS='50' is out of range (allowed: 1000..10000 items); using 1000"},
        ClampCase{"EXTENSION_LOG_MAX_ITEMS", "20000", "10000",
                  "EXTENSION_LOG_MAX_ITEMS='20000' is out of range (allowed: 1000..10000 items); using 10000"},
        ClampCase{"EXTENSION_LOG_TIMEOUT_MS", "25", "100",
                  "EXTENSION_LOG_TIMEOUT_MS='25' is out of range (allowed: 100..30000 ms); using 100"},
        ClampCase{"EXTENSION_LOG_TIMEOUT_MS", "-1", "100",
                  "EXTENSION_LOG_TIMEOUT_MS='-1' is out of range (allowed: 100..30000 ms); using 100"},
        ClampCase{"EXTENSION_LOG_MAX_BYTES", "99999999999999999999999", "1048576",
                  "EXTENSION_LOG_MAX_BYTES='99999999999999999999999' is out of range (allowed: 262144..1048576 "
                  "bytes); using 1048576"},
        ClampCase{"EXTENSION_LOG_MAX_BYTES", "lots", "262144",
                  "EXTENSION_LOG_MAX_BYTES='lots' is not a whole number (allowed: 262144..1048576 bytes); using "
                  "262144"},
        ClampCase{"EXTENSION_LOG_TIMEOUT_MS", "1e3", "1000",
                  "EXTENSION_LOG_TIMEOUT_MS='1e3' is not a whole number (allowed: 100..30000 ms); using 1000"}));

TEST(Settings, ValuesInRangeAreTakenAsGivenWithSpacesTrimmed) {
  const auto l = load_with({{"EXTENSION_LOG_MAX_ITEMS", " 2500 "}, {"EXTENSION_LOG_TIMEOUT_MS", "+100"}});
  EXPECT_TRUE(l.warnings.empty());
  EXPECT_EQ(l.config.integer(names::max_items), 2500);
  EXPECT_EQ(l.config.integer(names::timeout_ms), 100);
}

TEST(Settings, RejectedValuesAreErrorsNamingVariableValueAndRange) {
  const auto l = load_with({{"EXTENSION_LOG_LISTENER_PORT", "70000"}});
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_EQ(l.errors[0], "EXTENSION_LOG_LISTENER_PORT='70000' is out of range; allowed: 0..65535");
}

// Every row of the table, given bad values: the clamping (one warning) or init error (one error) the row
// promises, naming the variable, the value given and what is allowed.
TEST(Settings, EverySettingGivenABadValueGetsWhatItsRowPromises) {
  const auto rows = destinations::all_settings();
  std::size_t checked = 0;
  for (const auto& row : rows) {
    std::vector<std::string> bad;
    switch (row.kind) {
      case Kind::integer:
        bad = {std::to_string(row.max) + "0", "many"};
        if (row.min > 0) bad.push_back(std::to_string(row.min - 1));
        break;
      case Kind::choice:
      case Kind::list:
        bad = {"no-such-value"};
        break;
      case Kind::regex:
        bad = {"(unclosed"};
        break;
      case Kind::schedule:
        bad = {"sometimes", "periodic,1", "periodic,never", "periodic,99999999"};
        break;
      case Kind::text:
        continue;  // any text is a value
    }
    for (const auto& value : bad) {
      std::map<std::string, std::string> env{{"EXTENSION_LOG_DESTINATIONS", "file"},
                                             {"EXTENSION_LOG_DESTINATION_FILE_DIRECTORY", "/tmp/x"}};
      env[std::string(row.name)] = value;
      if (!row.destination.empty()) {
        env["EXTENSION_LOG_DESTINATIONS"] = std::string(row.destination);
        for (const auto& other : rows)  // the destination's required settings, valid
          if (other.destination == row.destination && other.required && other.name != row.name)
            env[std::string(other.name)] = std::string(other.name).find("URL") != std::string::npos
                                               ? "http://127.0.0.1:1"
                                           : std::string(other.name).find("BUCKET") != std::string::npos ? "my-logs"
                                                                                                         : "x";
      }
      if (row.name == names::destinations) env.erase("EXTENSION_LOG_DESTINATION_FILE_DIRECTORY");
      const auto l = load(rows, env_of(env), destinations::destination_aliases());
      const auto& lines = row.on_invalid == OnInvalid::clamp ? l.warnings : l.errors;
      const auto& others = row.on_invalid == OnInvalid::clamp ? l.errors : l.warnings;
      ASSERT_EQ(lines.size(), 1u) << row.name << "=" << value << ": " << (lines.empty() ? "" : lines.back());
      EXPECT_TRUE(others.empty()) << row.name << "=" << value << ": " << others[0];
      EXPECT_NE(lines[0].find(std::string(row.name) + "='" + value + "'"), std::string::npos) << lines[0];
      EXPECT_NE(lines[0].find(row.kind == Kind::regex ? "not a valid regular expression" : "allowed"),
                std::string::npos)
          << lines[0];
      if (row.on_invalid == OnInvalid::clamp) {
        std::int64_t used = 0;
        EXPECT_NO_THROW(used = l.config.integer(row.name)) << row.name;
        EXPECT_GE(used, row.min) << row.name;
        EXPECT_LE(used, row.max) << row.name;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 40u);
}

TEST(Settings, FlushIsAutoEndOrPeriodicWithAnInterval) {
  EXPECT_EQ(parse_schedule("auto")->mode, elk::config::FlushMode::automatic);
  EXPECT_EQ(parse_schedule("end")->mode, elk::config::FlushMode::end);
  EXPECT_FALSE(parse_schedule("end")->periodic());
  EXPECT_FALSE(parse_schedule("sometimes"));
  const auto p = parse_schedule("periodic,250");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->periodic());
  EXPECT_EQ(p->interval, std::chrono::milliseconds(250));
  EXPECT_FALSE(parse_schedule("periodic"));
  EXPECT_FALSE(parse_schedule("periodic,-5"));
  const auto l = load_with({{"EXTENSION_LOG_FLUSH", "periodic,50"}});
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_EQ(l.errors[0],
            "EXTENSION_LOG_FLUSH='periodic,50': allowed: auto, end, or periodic,<ms> with <ms> in 100..600000 ms");
}

TEST(Settings, TheExtraFieldsRootMayNotBeAFieldEveryDocumentHas) {
  for (const char* root : {"message", "faas", "log", "@timestamp"}) {
    const auto l = load_with({{"EXTENSION_LOG_EXTRA_FIELDS_ROOT", root}});
    ASSERT_EQ(l.errors.size(), 1u) << root;
    EXPECT_NE(
        l.errors[0].find(std::string("EXTENSION_LOG_EXTRA_FIELDS_ROOT='") + root + "' is a field every document has"),
        std::string::npos)
        << l.errors[0];
  }
  EXPECT_TRUE(load_with({{"EXTENSION_LOG_EXTRA_FIELDS_ROOT", "fields"}}).errors.empty());
}

// The registry's destination kinds, sorted, as the settings name them.
std::vector<std::string> registry_names() {
  std::vector<std::string> names;
  for (const auto& t : destinations::destination_types()) names.emplace_back(t.name);
  std::sort(names.begin(), names.end());
  return names;
}
std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

TEST(Settings, AnUnknownDestinationIsAnError) {
  const auto l = load_with({{"EXTENSION_LOG_DESTINATIONS", "file,kafka"}});
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_EQ(l.errors[0], "EXTENSION_LOG_DESTINATIONS='file,kafka': unknown destination 'kafka'; allowed: " +
                             joined(registry_names()));
}

// A dead letter may name any destination the registry has (the list is not written out a second time).
TEST(Settings, ADeadLetterMayNameEveryDestinationOfTheRegistry) {
  for (const auto& name : registry_names()) {
    const auto l = load_with({{"EXTENSION_LOG_DESTINATIONS", "elasticsearch"},
                              {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", "http://127.0.0.1:9200"},
                              {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_DEAD_LETTER", name},
                              {"EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME", "b"},
                              {"EXTENSION_LOG_DESTINATION_FILE_DIRECTORY", "/tmp/x"},
                              {"EXTENSION_LOG_DESTINATION_LOGSTASH_URL", "http://127.0.0.1:8080"}});
    for (const auto& e : l.errors) EXPECT_EQ(e.find("DEAD_LETTER"), std::string::npos) << name << ": " << e;
  }
  const auto l = load_with({{"EXTENSION_LOG_DESTINATIONS", "elasticsearch"},
                            {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", "http://127.0.0.1:9200"},
                            {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_DEAD_LETTER", "kafka"}});
  ASSERT_FALSE(l.errors.empty());
  EXPECT_NE(l.errors[0].find("none, " + joined(registry_names())), std::string::npos) << l.errors[0];
}

// A CR or LF in a header value or secret used to be refused at every send, as retryable, so records piled up:
// every text setting refuses control characters at init, naming the variable and never repeating the value.
TEST(Settings, EveryTextSettingRefusesControlCharactersWithoutEchoingTheValue) {
  const auto rows = destinations::all_settings();
  std::size_t checked = 0;
  for (const auto& row : rows) {
    if (row.kind != Kind::text) continue;
    for (const std::string value : {"SECRET\r\nX-Injected: 1", "SECRET\x01", "SECRET\tvalue"}) {
      std::map<std::string, std::string> env{{"EXTENSION_LOG_DESTINATIONS", "file"},
                                             {"EXTENSION_LOG_DESTINATION_FILE_DIRECTORY", "/tmp/x"}};
      if (!row.destination.empty()) {
        env["EXTENSION_LOG_DESTINATIONS"] = std::string(row.destination);
        for (const auto& other : rows)
          if (other.destination == row.destination && other.required)
            env[std::string(other.name)] = std::string(other.name).find("URL") != std::string::npos
                                               ? "http://127.0.0.1:1"
                                           : std::string(other.name).find("BUCKET") != std::string::npos ? "my-logs"
                                                                                                         : "x";
      }
      env[std::string(row.name)] = value;
      const auto l = load(rows, env_of(env), destinations::destination_aliases());
      ASSERT_EQ(l.errors.size(), 1u) << row.name;
      EXPECT_NE(l.errors[0].find(std::string(row.name) + " holds a control character"), std::string::npos)
          << l.errors[0];
      EXPECT_EQ(l.errors[0].find("SECRET"), std::string::npos) << l.errors[0];
      ++checked;
    }
  }
  EXPECT_GT(checked, 30u);
}

TEST(Settings, IndexAndBucketNamesTheServiceWouldRefuseAreInitErrors) {
  const auto es = [](std::string index) {
    return load(destinations::all_settings(),
                env_of({{"EXTENSION_LOG_DESTINATIONS", "elasticsearch"},
                        {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", "http://127.0.0.1:9200"},
                        {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_INDEX", index}}));
  };
  for (const char* good : {"logs-aws.lambda-default", "lambda-logs-%Y.%m.%d", "app-%Y-%m-%d-%H", "a%%b", ".hidden"})
    EXPECT_TRUE(es(good).errors.empty()) << good << ": " << es(good).errors[0];
  for (const char* bad : {"Logs", "logs,other", "logs/x", "-logs", "_logs", "+logs", "logs*", "lo gs", "logs#1",
                          "logs:1", "..", "logs-%y", "a\"b"}) {
    const auto l = es(bad);
    ASSERT_EQ(l.errors.size(), 1u) << bad;
    EXPECT_NE(l.errors[0].find("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_INDEX='"), std::string::npos) << l.errors[0];
  }
  EXPECT_EQ(es(std::string(256, 'a')).errors.size(), 1u);
  const auto s3 = [](std::string bucket) {
    return load(destinations::all_settings(), env_of({{"EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME", bucket}}));
  };
  for (const char* good : {"my-logs", "abc", "logs.example.com", "1-2-3"})
    EXPECT_TRUE(s3(good).errors.empty()) << good << ": " << s3(good).errors[0];
  for (const char* bad : {"ab", "My-Logs", "my_logs", "-logs", "logs-", "my..logs", "192.168.1.1", "s3://my-logs",
                          "arn:aws:s3:::my-logs", "my logs"}) {
    const auto l = s3(bad);
    ASSERT_EQ(l.errors.size(), 1u) << bad;
    EXPECT_NE(l.errors[0].find("EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME='"), std::string::npos) << l.errors[0];
  }
  EXPECT_EQ(s3(std::string(64, 'a')).errors.size(), 1u);
}

TEST(Settings, ARetryBaseAboveTheRetryCapIsCappedWithOneWarning) {
  auto l = load_with({{"EXTENSION_LOG_RETRY_BASE_MS", "5000"}});
  ASSERT_EQ(l.warnings.size(), 1u);
  EXPECT_NE(l.warnings[0].find("EXTENSION_LOG_RETRY_BASE_MS='5000' is above EXTENSION_LOG_RETRY_MAX_MS (2000 ms)"),
            std::string::npos)
      << l.warnings[0];
  EXPECT_EQ(l.config.integer(names::retry_base_ms), 2000);
  l = load_with({{"EXTENSION_LOG_RETRY_BASE_MS", "300"}, {"EXTENSION_LOG_RETRY_MAX_MS", "200"}});
  ASSERT_EQ(l.warnings.size(), 1u);
  EXPECT_EQ(l.config.integer(names::retry_base_ms), 200);
  l = load_with({{"EXTENSION_LOG_RETRY_BASE_MS", "200"}, {"EXTENSION_LOG_RETRY_MAX_MS", "200"}});
  EXPECT_TRUE(l.warnings.empty());
}

TEST(Settings, WithoutDestinationsTheSeedsS3IsUsedAndItsBucketDemanded) {
  const auto l = load(destinations::all_settings(), env_of({}));
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_NE(l.errors[0].find("EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME is required by the s3 destination"),
            std::string::npos)
      << l.errors[0];
  const auto ok = load(destinations::all_settings(), env_of({{"EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME", "my-logs"}}));
  EXPECT_TRUE(ok.errors.empty());
  EXPECT_EQ(ok.config.text(names::destinations), "s3");
}

TEST(Settings, ADestinationsRequiredSettingIsDemandedOnlyWhenItIsOn) {
  const auto on = load(destinations::all_settings(), env_of({{"EXTENSION_LOG_DESTINATIONS", "file"}}));
  ASSERT_EQ(on.errors.size(), 1u);
  EXPECT_NE(on.errors[0].find("EXTENSION_LOG_DESTINATION_FILE_DIRECTORY is required by the file destination"),
            std::string::npos)
      << on.errors[0];
}

TEST(Settings, ADeadLetterDestinationsSettingsApplyToo) {
  const auto l =
      load(destinations::all_settings(), env_of({{"EXTENSION_LOG_DESTINATIONS", "elasticsearch"},
                                                 {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", "http://x:9200"},
                                                 {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_DEAD_LETTER", "file"}}));
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_NE(l.errors[0].find("EXTENSION_LOG_DESTINATION_FILE_DIRECTORY is required by the file destination"),
            std::string::npos)
      << l.errors[0];
}

TEST(Settings, EveryProblemIsReportedInOnePass) {
  const auto l = load(destinations::all_settings(), env_of({{"EXTENSION_LOG_DESTINATIONS", "file"},
                                                            {"EXTENSION_LOG_TYPES", "platform,bogus"},
                                                            {"EXTENSION_LOG_LISTENER_PORT", "x"},
                                                            {"EXTENSION_LOG_MAX_ITEMS", "1"}}));
  EXPECT_EQ(l.errors.size(), 3u);  // types, port, file directory
  EXPECT_EQ(l.warnings.size(), 1u);
}

TEST(Settings, EveryRowIsWellFormed) {
  for (const auto& s : destinations::all_settings()) {
    EXPECT_TRUE(s.name.starts_with("EXTENSION_LOG_")) << s.name;
    EXPECT_FALSE(s.help.empty()) << s.name;
    if (s.kind == Kind::integer) {
      EXPECT_LE(s.min, s.max) << s.name;
      std::int64_t d = std::stoll(std::string(s.default_value));
      EXPECT_GE(d, s.min) << s.name;
      EXPECT_LE(d, s.max) << s.name;
    }
  }
}

enum class Colour { red, green };
// `verde` is another name of green, as `seed` is of the s3 key format flat.
constexpr Choice colours[] = {{"red", Colour::red}, {"green", Colour::green}, {"verde", Colour::green}};
enum class Shape { round };
constexpr Setting colour_rows[] = {
    {"EXTENSION_LOG_COLOUR", Kind::choice, "red", 0, 0, "", colours, OnInvalid::reject, "The colour."}};

TEST(Settings, AChoiceIsReadBackAsTheEnumeratorItsTextStandsForAliasesIncluded) {
  const auto unset = load(colour_rows, env_of({}));
  EXPECT_TRUE(unset.errors.empty());
  EXPECT_EQ(unset.config.choice<Colour>("EXTENSION_LOG_COLOUR", colours), Colour::red);
  for (const char* given : {"green", " verde "}) {
    const auto l = load(colour_rows, env_of({{"EXTENSION_LOG_COLOUR", given}}));
    EXPECT_TRUE(l.errors.empty()) << given;
    EXPECT_EQ(l.config.choice<Colour>("EXTENSION_LOG_COLOUR", colours), Colour::green) << given;
  }
  Config set_by_hand;  // as the destinations' tests build theirs
  set_by_hand.set("EXTENSION_LOG_COLOUR", "verde");
  EXPECT_EQ(set_by_hand.choice<Colour>("EXTENSION_LOG_COLOUR", colours), Colour::green);
}

TEST(Settings, AChoicesTableGivesTheAllowedValuesOfItsErrorAndOfTheReadme) {
  const auto l = load(colour_rows, env_of({{"EXTENSION_LOG_COLOUR", "blue"}}));
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_EQ(l.errors[0], "EXTENSION_LOG_COLOUR='blue': unknown value 'blue'; allowed: red, green, verde");
  EXPECT_NE(
      markdown_table(colour_rows).find("| `EXTENSION_LOG_COLOUR` | red | one of red, green, verde | init error |"),
      std::string::npos)
      << markdown_table(colour_rows);
}

TEST(Settings, ReadingAChoiceBackWithAnotherEnumOrAnotherTableIsABug) {
  Config c;
  c.set("EXTENSION_LOG_COLOUR", "green");
  EXPECT_THROW((void)c.choice<Shape>("EXTENSION_LOG_COLOUR", colours), std::logic_error);
  constexpr Choice shapes[] = {{"round", Shape::round}};
  EXPECT_THROW((void)c.choice<Shape>("EXTENSION_LOG_COLOUR", shapes), std::logic_error);
}

TEST(Settings, AListOfChoicesIsReadBackAsEnumeratorsInTheOrderGiven) {
  const auto l = load_with({{"EXTENSION_LOG_REDACT_BUILTIN", "bearer-token, aws-access-key-id"}});
  EXPECT_TRUE(l.errors.empty());
  EXPECT_EQ(l.config.choices<BuiltinRedaction>(names::redact_builtin, builtin_redactions),
            (std::vector<BuiltinRedaction>{BuiltinRedaction::bearer_token, BuiltinRedaction::aws_access_key_id}));
  EXPECT_TRUE(load_with({}).config.choices<BuiltinRedaction>(names::redact_builtin, builtin_redactions).empty());
}

TEST(Settings, EveryChoiceRowsDefaultIsOneOfItsChoices) {
  for (const auto& s : destinations::all_settings()) {
    if (s.kind != Kind::choice || s.choices.empty()) continue;
    EXPECT_TRUE(std::any_of(s.choices.begin(), s.choices.end(), [&](const Choice& c) {
      return c.text == s.default_value;
    })) << s.name;
  }
}

TEST(Settings, TheReadmeConfigurationTableIsTheGeneratedOne) {
  const auto readme = test::read_file(std::string(ELK_SOURCE_DIR) + "/README.md");
  const std::string begin = "<!-- settings:begin -->\n", end = "<!-- settings:end -->";
  const auto b = readme.find(begin);
  const auto e = readme.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  EXPECT_EQ(readme.substr(b + begin.size(), e - b - begin.size()), markdown_table(destinations::all_settings()))
      << "regenerate with: build/release/elk-extension --settings-markdown";
}

}  // namespace
}  // namespace elk::config
