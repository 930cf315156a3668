#include "pipeline/platform_line.h"

#include <gtest/gtest.h>

#include <ostream>
#include <sstream>
#include <string>
#include <string_view>

namespace elk::pipeline {
namespace {

// A canonical one-line rendering of what was parsed: the kind, then every field that is set, in a fixed
// order. Tables compare against it, so a case states all that it expects in one readable string.
std::string describe(const PlatformEvent& p) {
  std::ostringstream s;
  switch (p.type) {
    case PlatformEvent::Type::start:
      s << "start";
      break;
    case PlatformEvent::Type::end:
      s << "end";
      break;
    case PlatformEvent::Type::report:
      s << "report";
      break;
    case PlatformEvent::Type::init_start:
      s << "init_start";
      break;
    case PlatformEvent::Type::init_report:
      s << "init_report";
      break;
    case PlatformEvent::Type::xray:
      s << "xray";
      break;
    default:
      s << "other";
      break;
  }
  const auto str = [&](std::string_view name, std::string_view v) {
    if (!v.empty()) s << ' ' << name << '=' << v;
  };
  const auto num = [&](std::string_view name, const auto& v) {
    if (v) s << ' ' << name << '=' << *v;
  };
  str("rid", p.request_id);
  str("version", p.version);
  num("duration", p.duration_ms);
  num("billed", p.billed_duration_ms);
  num("memory", p.memory_size_mb);
  num("max_memory", p.max_memory_used_mb);
  num("init", p.init_duration_ms);
  num("restore", p.restore_duration_ms);
  num("billed_restore", p.billed_restore_duration_ms);
  str("status", p.status);
  str("phase", p.phase);
  str("error_type", p.error_type);
  str("runtime", p.runtime_version);
  str("arn", p.runtime_version_arn);
  str("trace", p.trace_id);
  str("segment", p.span_id);
  return s.str();
}

struct Case {
  std::string_view name;
  std::string_view line;
  std::string_view expected;  // describe() of the result
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

const Case kParsed[] = {
    {"StartWithLatestVersion", "START RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95 Version: $LATEST",
     "start rid=8f507cfc-xmpl-4697-b07a-ac58fc914c95 version=$LATEST"},
    {"StartWithNumberedVersionAndNewline", "START RequestId: c0ffee00-1111-4222-8333-944455556666 Version: 7\n",
     "start rid=c0ffee00-1111-4222-8333-944455556666 version=7"},
    {"StartWithoutVersion", "START RequestId: c0ffee00-1111-4222-8333-944455556666",
     "start rid=c0ffee00-1111-4222-8333-944455556666"},
    {"End", "END RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95", "end rid=8f507cfc-xmpl-4697-b07a-ac58fc914c95"},
    {"EndWithCrLf", "END RequestId: 6f7f0961f83442118a7af6fe80b88d56\r\n", "end rid=6f7f0961f83442118a7af6fe80b88d56"},
    {"ReportColdStartWithTrailingTab",
     "REPORT RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: "
     "128 MB\tMax Memory Used: 56 MB\tInit Duration: 130.49 ms\t",
     "report rid=8f507cfc-xmpl-4697-b07a-ac58fc914c95 duration=15.74 billed=16 memory=128 max_memory=56 init=130.49"},
    {"ReportWarmWithoutTrailingTab",
     "REPORT RequestId: c0ffee00-1111-4222-8333-944455556666\tDuration: 3.2 ms\tBilled Duration: 4 ms\tMemory Size: "
     "256 MB\tMax Memory Used: 71 MB",
     "report rid=c0ffee00-1111-4222-8333-944455556666 duration=3.2 billed=4 memory=256 max_memory=71"},
    {"ReportFieldsInAnyOrder",
     "REPORT Max Memory Used: 71 MB\tDuration: 3.2 ms\tRequestId: c0ffee00-1111-4222-8333-944455556666\tMemory Size: "
     "256 MB\tBilled Duration: 4 ms\t",
     "report rid=c0ffee00-1111-4222-8333-944455556666 duration=3.2 billed=4 memory=256 max_memory=71"},
    {"ReportTimeoutStatus",
     "REPORT RequestId: c0ffee00-1111-4222-8333-944455556666\tDuration: 5005.71 ms\tBilled Duration: 5000 ms\tMemory "
     "Size: 128 MB\tMax Memory Used: 64 MB\tStatus: timeout",
     "report rid=c0ffee00-1111-4222-8333-944455556666 duration=5005.71 billed=5000 memory=128 max_memory=64 "
     "status=timeout"},
    {"ReportErrorStatusWithErrorType",
     "REPORT RequestId: c0ffee00-1111-4222-8333-944455556666\tDuration: 12 ms\tBilled Duration: 12 ms\tMemory Size: "
     "128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory\t",
     "report rid=c0ffee00-1111-4222-8333-944455556666 duration=12 billed=12 memory=128 max_memory=128 status=error "
     "error_type=Runtime.OutOfMemory"},
    {"ReportSnapStartRestoreDurations",
     "REPORT RequestId: c0ffee00-1111-4222-8333-944455556666\tDuration: 20.5 ms\tBilled Duration: 126 ms\tMemory "
     "Size: 512 MB\tMax Memory Used: 90 MB\tRestore Duration: 283.45 ms\tBilled Restore Duration: 105 ms\t",
     "report rid=c0ffee00-1111-4222-8333-944455556666 duration=20.5 billed=126 memory=512 max_memory=90 "
     "restore=283.45 billed_restore=105"},
    {"ReportWithSpacesInsteadOfTabs",
     "REPORT RequestId: c0ffee00-1111-4222-8333-944455556666  Duration: 3.2 ms  Billed Duration: 4 ms  Memory Size: "
     "256 MB  Max Memory Used: 71 MB  ",
     "report rid=c0ffee00-1111-4222-8333-944455556666 duration=3.2 billed=4 memory=256 max_memory=71"},
    {"ReportUnknownFieldIsSkipped",
     "REPORT RequestId: c0ffee00-1111-4222-8333-944455556666\tDuration: 3.2 ms\tFuture Metric: 42 widgets\tMemory "
     "Size: 256 MB",
     "report rid=c0ffee00-1111-4222-8333-944455556666 duration=3.2 memory=256"},
    {"ReportUnparsableNumberLeavesFieldEmpty",
     "REPORT RequestId: c0ffee00-1111-4222-8333-944455556666\tDuration: lots ms\tMemory Size: -1 MB\tMax Memory "
     "Used: 1.5 MB",
     "report rid=c0ffee00-1111-4222-8333-944455556666"},
    {"ReportNumberWithoutUnit",
     "REPORT RequestId: c0ffee00-1111-4222-8333-944455556666\tDuration: 3.2\tMemory Size: 256",
     "report rid=c0ffee00-1111-4222-8333-944455556666 duration=3.2 memory=256"},
    {"InitStart",
     "INIT_START Runtime Version: python:3.9.v18\tRuntime Version ARN: "
     "arn:aws:lambda:eu-central-1::runtime:edb5a058bfa782cb9cedc6d534ac8b8c193bc28e9a9879d9f5ebaaf619cd0fc0",
     "init_start runtime=python:3.9.v18 arn="
     "arn:aws:lambda:eu-central-1::runtime:edb5a058bfa782cb9cedc6d534ac8b8c193bc28e9a9879d9f5ebaaf619cd0fc0"},
    {"InitStartWithoutArn", "INIT_START Runtime Version: nodejs:20.v22\n", "init_start runtime=nodejs:20.v22"},
    {"InitReportTimeout", "INIT_REPORT Init Duration: 10008.23 ms\tPhase: init\tStatus: timeout",
     "init_report init=10008.2 status=timeout phase=init"},
    {"InitReportErrorWithErrorType",
     "INIT_REPORT Init Duration: 1202.5 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.ExitError\t",
     "init_report init=1202.5 status=error phase=invoke error_type=Runtime.ExitError"},
    {"InitReportSnapStart", "INIT_REPORT Init Duration: 412.57 ms", "init_report init=412.57"},
    {"XraySampled", "XRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1\tSegmentId: 07f5xmpl2d1f6f85\tSampled: true",
     "xray trace=1-5e34a614-10bdxmplf1fb44f07bc535a1 segment=07f5xmpl2d1f6f85"},
    {"XrayNotSampled", "XRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1\tSegmentId: 07f5xmpl2d1f6f85\tSampled: false",
     "xray trace=1-5e34a614-10bdxmplf1fb44f07bc535a1 segment=07f5xmpl2d1f6f85"},
    {"XrayOddSampledValueIsUnknown", "XRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1\tSampled: maybe",
     "xray trace=1-5e34a614-10bdxmplf1fb44f07bc535a1"},
    {"EmptyValueBeforeTab", "INIT_REPORT Init Duration: 5 ms\tStatus:\tPhase: init", "init_report init=5 phase=init"},
};

class ParsePlatformLineTable : public ::testing::TestWithParam<Case> {};

TEST_P(ParsePlatformLineTable, ParsesToExpectedFields) {
  const Case& c = GetParam();
  const auto got = parse_platform_line(c.line);
  ASSERT_TRUE(got.has_value()) << c.line;
  EXPECT_EQ(describe(*got), c.expected);
}

INSTANTIATE_TEST_SUITE_P(Lines, ParsePlatformLineTable, ::testing::ValuesIn(kParsed),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

struct Rejected {
  std::string_view name;
  std::string_view line;
};

const Rejected kRejected[] = {
    {"Empty", ""},
    {"FunctionMessageStartingWithReport", "REPORT card ready"},
    {"FunctionMessageStartingWithStart", "START the engines"},
    {"FunctionMessageStartingWithEnd", "END of story"},
    {"KeywordAlone", "REPORT"},
    {"KeywordWithBlankOnly", "START \t"},
    {"LowercaseKeyword", "report RequestId: c0ffee00-1111-4222-8333-944455556666\tDuration: 3.2 ms"},
    {"KeywordGluedToField", "STARTRequestId: c0ffee00-1111-4222-8333-944455556666"},
    {"RequestIdNotUuidShaped", "END RequestId: 42"},
    {"RequestIdMissing", "REPORT Duration: 15.74 ms\tBilled Duration: 16 ms"},
    {"TrailingWordsAfterFields", "END RequestId: c0ffee00-1111-4222-8333-944455556666 and more words"},
    {"WrongUnitAfterNumber", "REPORT RequestId: c0ffee00-1111-4222-8333-944455556666\tDuration: 15 s"},
    {"EmbeddedNewline", "START RequestId: c0ffee00-1111-4222-8333-944455556666\nVersion: 1"},
    {"InitStartWithoutRuntimeVersion", "INIT_START Runtime Version ARN: arn:aws:lambda:x"},
    {"InitReportWithoutDuration", "INIT_REPORT Phase: init\tStatus: timeout"},
    {"XrayWithoutTraceId", "XRAY SegmentId: 07f5xmpl2d1f6f85\tSampled: true"},
    {"NodeLogLine", "2024-05-02T11:00:00.102Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tuser signed in"},
    {"LeadingWhitespace", " START RequestId: c0ffee00-1111-4222-8333-944455556666"},
    {"UnknownKeyword", "EXTENSION Name: logship State: Ready Events: [INVOKE, SHUTDOWN]"},
    {"ColonlessGarbageField", "START RequestId: c0ffee00-1111-4222-8333-944455556666\t!!!"},
};

void PrintTo(const Rejected& c, std::ostream* os) {
  *os << c.name;
}

class ParsePlatformLineRejects : public ::testing::TestWithParam<Rejected> {};

TEST_P(ParsePlatformLineRejects, IsNotAPlatformLine) {
  EXPECT_FALSE(parse_platform_line(GetParam().line).has_value()) << GetParam().line;
}

INSTANTIATE_TEST_SUITE_P(Lines, ParsePlatformLineRejects, ::testing::ValuesIn(kRejected),
                         [](const ::testing::TestParamInfo<Rejected>& info) { return std::string(info.param.name); });

TEST(ParsePlatformLine, ViewsPointIntoTheLine) {
  const std::string line = "START RequestId: c0ffee00-1111-4222-8333-944455556666 Version: $LATEST";
  const auto got = parse_platform_line(line);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->request_id.data(), line.data() + line.find("c0ffee00"));
  EXPECT_EQ(got->version.data(), line.data() + line.find("$LATEST"));
}

TEST(ParsePlatformLine, DurationsKeepFractionalMilliseconds) {
  const auto got = parse_platform_line(
      "REPORT RequestId: c0ffee00-1111-4222-8333-944455556666\tDuration: 0.001 ms\tBilled Duration: 1 ms\t");
  ASSERT_TRUE(got);
  EXPECT_DOUBLE_EQ(*got->duration_ms, 0.001);
  EXPECT_DOUBLE_EQ(*got->billed_duration_ms, 1.0);
}

TEST(ParsePlatformLine, HugeLineIsRejectedOrParsedWithoutBlowingUp) {
  std::string line = "REPORT RequestId: c0ffee00-1111-4222-8333-944455556666";
  while (line.size() < (1u << 20)) line += "\tDuration: 1.5 ms";
  const auto got = parse_platform_line(line);
  ASSERT_TRUE(got);
  EXPECT_DOUBLE_EQ(*got->duration_ms, 1.5);
  EXPECT_FALSE(parse_platform_line("REPORT " + std::string(1u << 20, 'x')).has_value());
}

}  // namespace
}  // namespace elk::pipeline
