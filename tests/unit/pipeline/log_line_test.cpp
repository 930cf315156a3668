#include "pipeline/log_line.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "core/time_text.h"

namespace elk::pipeline {
namespace {

using namespace std::string_view_literals;

constexpr std::string_view kRid = "c0ffee00-1111-4222-8333-944455556666";

struct Case {
  std::string_view name;
  std::string_view record;
  std::string_view format;
  std::string_view level;
  std::string_view request_id;
  std::string_view message;
  std::string_view timestamp;  // ISO 8601 ms Z, "" for none
  std::string_view error_type;
};

// gtest prints a failing case by its name, not as bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

std::string show(const std::optional<EpochMs>& t) {
  return t ? format_iso8601_ms(*t) : std::string();
}

void expect_parsed(const ParsedLine& got, const Case& want) {
  EXPECT_EQ(got.format, want.format);
  EXPECT_EQ(got.level, want.level);
  EXPECT_EQ(got.request_id, want.request_id);
  EXPECT_EQ(got.message, want.message);
  EXPECT_EQ(show(got.timestamp), want.timestamp);
  EXPECT_EQ(got.error_type, want.error_type);
}

// Every view the parser returns (bar the literal error type) lies inside the record.
bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// ---------------------------------------------------------------------------------------------------
// Table: one record per runtime form, and the near misses that must stay plain.

const Case kCases[] = {
    // Node.js
    {"NodeInfoLineSplitsIntoTimeRequestIdLevelMessage",
     "2024-05-02T11:00:00.102Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tuser signed in\n", "nodejs", "info", kRid,
     "user signed in", "2024-05-02T11:00:00.102Z", ""},
    {"NodeUndefinedRequestIdBeforeFirstInvokeMeansNone", "2024-05-02T10:15:30.498Z\tundefined\tINFO\tLoading config\n",
     "nodejs", "info", "", "Loading config", "2024-05-02T10:15:30.498Z", ""},
    {"NodeTraceLevel", "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tTRACE\tt", "nodejs", "trace",
     kRid, "t", "2024-05-02T11:00:00.000Z", ""},
    {"NodeDebugLevel", "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tDEBUG\td", "nodejs", "debug",
     kRid, "d", "2024-05-02T11:00:00.000Z", ""},
    {"NodeWarnLevel", "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tWARN\tw", "nodejs", "warn", kRid,
     "w", "2024-05-02T11:00:00.000Z", ""},
    {"NodeFatalLevel", "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tFATAL\tf", "nodejs", "fatal",
     kRid, "f", "2024-05-02T11:00:00.000Z", ""},
    {"NodeDocsExampleRequestId",
     "2019-06-07T19:11:20.562Z\tc793869b-ee49-115b-a5b6-4fd21e8dedac\tINFO\tENVIRONMENT VARIABLES", "nodejs", "info",
     "c793869b-ee49-115b-a5b6-4fd21e8dedac", "ENVIRONMENT VARIABLES", "2019-06-07T19:11:20.562Z", ""},
    {"NodeInvokeErrorCarriesErrorTypeFromJson",
     "2024-05-02T11:00:00.103Z\tc0ffee00-1111-4222-8333-944455556666\tERROR\tInvoke Error "
     "\t{\"errorType\":\"TypeError\",\"errorMessage\":\"x is undefined\",\"stack\":[\"TypeError: x\"]}\n",
     "nodejs", "error", kRid,
     "Invoke Error \t{\"errorType\":\"TypeError\",\"errorMessage\":\"x is undefined\",\"stack\":[\"TypeError: x\"]}",
     "2024-05-02T11:00:00.103Z", "TypeError"},
    {"NodeUncaughtExceptionCarriesErrorType",
     "2024-05-02T11:00:00.103Z\tc0ffee00-1111-4222-8333-944455556666\tERROR\tUncaught Exception "
     "\t{\"errorType\":\"Error\",\"errorMessage\":\"boom\"}",
     "nodejs", "error", kRid, "Uncaught Exception \t{\"errorType\":\"Error\",\"errorMessage\":\"boom\"}",
     "2024-05-02T11:00:00.103Z", "Error"},
    {"NodeUnhandledRejectionCarriesRuntimeErrorType",
     "2024-05-02T11:00:00.103Z\tundefined\tERROR\tUnhandled Promise Rejection "
     "\t{\"errorType\":\"Runtime.UnhandledPromiseRejection\",\"errorMessage\":\"no\"}",
     "nodejs", "error", "",
     "Unhandled Promise Rejection \t{\"errorType\":\"Runtime.UnhandledPromiseRejection\",\"errorMessage\":\"no\"}",
     "2024-05-02T11:00:00.103Z", "Runtime.UnhandledPromiseRejection"},
    {"NodeErrorLoggedByFunctionHasNoErrorType",
     "2024-05-02T11:00:00.103Z\tc0ffee00-1111-4222-8333-944455556666\tERROR\tfailed {\"errorType\":\"X\"}", "nodejs",
     "error", kRid, "failed {\"errorType\":\"X\"}", "2024-05-02T11:00:00.103Z", ""},
    {"NodeInfoWithErrorJsonHasNoErrorType",
     "2024-05-02T11:00:00.103Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tInvoke Error \t{\"errorType\":\"X\"}",
     "nodejs", "info", kRid, "Invoke Error \t{\"errorType\":\"X\"}", "2024-05-02T11:00:00.103Z", ""},
    {"NodeErrorTypeWithQuoteEscapeIsNotTaken",
     "2024-05-02T11:00:00.103Z\tc0ffee00-1111-4222-8333-944455556666\tERROR\tInvoke Error \t{\"errorType\":\"A\\\"B\"}",
     "nodejs", "error", kRid, "Invoke Error \t{\"errorType\":\"A\\\"B\"}", "2024-05-02T11:00:00.103Z", ""},
    {"NodeStdoutModeCarriageReturnsStayInMessage",
     "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tline one\rline two\n", "nodejs", "info",
     kRid, "line one\rline two", "2024-05-02T11:00:00.000Z", ""},
    {"NodeMultiLineRecordKeptWhole",
     "2024-05-02T10:15:30.601Z\tc0ffee00-1111-4222-8333-944455556666\tWARN\tInventory low {\n  sku: 'A-17'\n}\n",
     "nodejs", "warn", kRid, "Inventory low {\n  sku: 'A-17'\n}", "2024-05-02T10:15:30.601Z", ""},
    {"NodeTabsInsideMessageKept", "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\ta\tb\t",
     "nodejs", "info", kRid, "a\tb\t", "2024-05-02T11:00:00.000Z", ""},
    {"NodeLeadingTabOfMessageKept", "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\t\tindented",
     "nodejs", "info", kRid, "\tindented", "2024-05-02T11:00:00.000Z", ""},
    {"NodeEmptyMessage", "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\t\n", "nodejs", "info",
     kRid, "", "2024-05-02T11:00:00.000Z", ""},
    {"NodeLevelAtEndOfLine", "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO", "nodejs", "info",
     kRid, "", "2024-05-02T11:00:00.000Z", ""},
    {"NodeCrLfLineEndingRemoved", "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tdone\r\n\r\n",
     "nodejs", "info", kRid, "done", "2024-05-02T11:00:00.000Z", ""},
    {"SpacesInsteadOfTabsAreAccepted",
     "2024-05-02T11:00:00.000Z  c0ffee00-1111-4222-8333-944455556666   INFO   copied from a console", "nodejs", "info",
     kRid, "copied from a console", "2024-05-02T11:00:00.000Z", ""},
    {"TimeWithZoneOffsetIsConvertedToUtc",
     "2024-05-02T13:00:00.102+02:00\tc0ffee00-1111-4222-8333-944455556666\tINFO\tx", "nodejs", "info", kRid, "x",
     "2024-05-02T11:00:00.102Z", ""},
    {"UppercaseRequestIdAccepted", "2024-05-02T11:00:00.000Z\tC0FFEE00-1111-4222-8333-944455556666\tINFO\tx", "nodejs",
     "info", "C0FFEE00-1111-4222-8333-944455556666", "x", "2024-05-02T11:00:00.000Z", ""},
    {"DashlessRequestIdAccepted", "2024-05-02T11:00:00.000Z\t6f7f0961f83442118a7af6fe80b88d56\tINFO\tx", "nodejs",
     "info", "6f7f0961f83442118a7af6fe80b88d56", "x", "2024-05-02T11:00:00.000Z", ""},

    // Python
    {"PythonLoggingLineSplitsIntoLevelTimeRequestIdMessage",
     "[INFO]\t2024-05-02T11:00:00.104Z\tc0ffee00-1111-4222-8333-944455556666\tfetched 3 rows\n", "python", "info", kRid,
     "fetched 3 rows", "2024-05-02T11:00:00.104Z", ""},
    {"PythonDocsExampleWithXmplRequestId",
     "[INFO]\t2020-01-31T22:12:58.534Z\t1c8df7d3-xmpl-46da-9778-518e6eca8125\t## EVENT", "python", "info",
     "1c8df7d3-xmpl-46da-9778-518e6eca8125", "## EVENT", "2020-01-31T22:12:58.534Z", ""},
    {"PythonWarningIsWarn", "[WARNING]\t2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tslow\n",
     "python", "warn", kRid, "slow", "2024-05-02T11:00:00.000Z", ""},
    {"PythonCriticalIsFatal", "[CRITICAL]\t2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tdown\n",
     "python", "fatal", kRid, "down", "2024-05-02T11:00:00.000Z", ""},
    {"PythonLoggedErrorHasNoErrorType",
     "[ERROR]\t2024-05-02T11:00:00.105Z\tc0ffee00-1111-4222-8333-944455556666\tKeyError: 'id'\n", "python", "error",
     kRid, "KeyError: 'id'", "2024-05-02T11:00:00.105Z", ""},
    {"PythonBeforeFirstInvokeHasEmptyRequestId", "[DEBUG]\t2024-05-02T11:00:00.000Z\t\tcold start\n", "python", "debug",
     "", "cold start", "2024-05-02T11:00:00.000Z", ""},
    {"PythonEmptyMessage", "[INFO]\t2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\t\n", "python",
     "info", kRid, "", "2024-05-02T11:00:00.000Z", ""},
    {"PythonMultiLineMessageKeptWhole",
     "[ERROR]\t2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tfailed\nTraceback (most recent call "
     "last):\n  File \"app.py\", line 3\n",
     "python", "error", kRid, "failed\nTraceback (most recent call last):\n  File \"app.py\", line 3",
     "2024-05-02T11:00:00.000Z", ""},
    {"PythonUncaughtErrorCarriesErrorType",
     "[ERROR] KeyError: 'id'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 3, in handler\n",
     "python", "error", "",
     "KeyError: 'id'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 3, in handler", "",
     "KeyError"},
    {"PythonUncaughtErrorOnStdoutUsesCarriageReturns",
     "[ERROR] ValueError: bad\rTraceback (most recent call last):\r\u00a0\u00a0File \"/var/task/app.py\"\n", "python",
     "error", "", "ValueError: bad\rTraceback (most recent call last):\r\u00a0\u00a0File \"/var/task/app.py\"", "",
     "ValueError"},
    {"PythonRuntimeImportModuleError",
     "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'requests'\nTraceback (most "
     "recent call last):",
     "python", "error", "",
     "Runtime.ImportModuleError: Unable to import module 'app': No module named 'requests'\nTraceback (most recent "
     "call last):",
     "", "Runtime.ImportModuleError"},
    {"PythonRuntimeErrorWithoutTraceback", "[ERROR] Runtime.HandlerNotFound: Handler 'x' missing on module 'app'",
     "python", "error", "", "Runtime.HandlerNotFound: Handler 'x' missing on module 'app'", "",
     "Runtime.HandlerNotFound"},
    {"PythonUncaughtErrorWithoutMessage", "[ERROR] StopIteration\nTraceback (most recent call last):\n", "python",
     "error", "", "StopIteration\nTraceback (most recent call last):", "", "StopIteration"},
    {"PythonUncaughtErrorWithMultiLineMessage",
     "[ERROR] ValueError: line one\nline two\nTraceback (most recent call last):\n", "python", "error", "",
     "ValueError: line one\nline two\nTraceback (most recent call last):", "", "ValueError"},
    {"PythonUncaughtErrorWithoutTypeHasEmptyErrorType",
     "[ERROR] something bad happened\nTraceback (most recent call last):\n", "python", "error", "",
     "something bad happened\nTraceback (most recent call last):", "", ""},
    {"ErrorWithColonButNoTracebackIsJavaNotPythonUncaught", "[ERROR] Connection: refused", "java", "error", "",
     "Connection: refused", "", ""},
    {"TracebackTextInsideFirstLineDoesNotCount", "[ERROR] Oops: Traceback (most recent call last):", "java", "error",
     "", "Oops: Traceback (most recent call last):", "", ""},

    // Java
    {"JavaLambdaLoggerWithLevel", "[INFO] OrderHandler - processing order 42", "java", "info", "",
     "OrderHandler - processing order 42", "", ""},
    {"JavaLambdaLoggerTabForm", "[WARN]\tdisk almost full\n", "java", "warn", "", "disk almost full", "", ""},
    {"JavaLambdaLoggerFatal", "[FATAL] cannot continue", "java", "fatal", "", "cannot continue", "", ""},
    {"JavaLambdaLoggerTrace", "[TRACE] entering", "java", "trace", "", "entering", "", ""},
    {"JavaLevelWithEmptyMessage", "[DEBUG]\n", "java", "debug", "", "", "", ""},
    {"JavaLevelKeepsExtraLeadingSpaceOfMessage", "[INFO]  two spaces", "java", "info", "", " two spaces", "", ""},
    {"Log4j2LineWithRequestId",
     "2024-05-02 11:00:00 c0ffee00-1111-4222-8333-944455556666 INFO  OrderHandler:27 - ENVIRONMENT VARIABLES loaded\n",
     "java", "info", kRid, "OrderHandler:27 - ENVIRONMENT VARIABLES loaded", "2024-05-02T11:00:00.000Z", ""},
    {"Log4j2DocsExample", "2020-03-18 08:52:43 6bc28136-xmpl-4365-b021-0ce6b2e64ab0 INFO  Handler - msg", "java",
     "info", "6bc28136-xmpl-4365-b021-0ce6b2e64ab0", "Handler - msg", "2020-03-18T08:52:43.000Z", ""},
    {"Log4j2BeforeFirstInvokeHasNoRequestId", "2020-03-18 08:52:43  INFO  Handler - init", "java", "info", "",
     "Handler - init", "2020-03-18T08:52:43.000Z", ""},
    {"Log4j2WithMillisecondsAndStackTrace",
     "2020-03-18 08:52:43,517 c0ffee00-1111-4222-8333-944455556666 ERROR Handler - failed\n"
     "java.lang.IllegalStateException: x\n\tat Handler.handleRequest(Handler.java:27)\n",
     "java", "error", kRid,
     "Handler - failed\njava.lang.IllegalStateException: x\n\tat Handler.handleRequest(Handler.java:27)",
     "2020-03-18T08:52:43.517Z", ""},

    // .NET
    {"DotnetInfoLabel", "2024-05-02T11:00:00.110Z\tc0ffee00-1111-4222-8333-944455556666\tinfo\tHello from .NET\n",
     "dotnet", "info", kRid, "Hello from .NET", "2024-05-02T11:00:00.110Z", ""},
    {"DotnetFailIsError", "2024-05-02T11:00:00.111Z\tc0ffee00-1111-4222-8333-944455556666\tfail\tSomething failed\n",
     "dotnet", "error", kRid, "Something failed", "2024-05-02T11:00:00.111Z", ""},
    {"DotnetCritIsFatal", "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tcrit\tdown", "dotnet",
     "fatal", kRid, "down", "2024-05-02T11:00:00.000Z", ""},
    {"DotnetTrceIsTrace", "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\ttrce\tt", "dotnet", "trace",
     kRid, "t", "2024-05-02T11:00:00.000Z", ""},
    {"DotnetDbugIsDebug", "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tdbug\td", "dotnet", "debug",
     kRid, "d", "2024-05-02T11:00:00.000Z", ""},
    {"DotnetWarnLabel", "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\twarn\tw", "dotnet", "warn",
     kRid, "w", "2024-05-02T11:00:00.000Z", ""},
    {"DotnetLambdaLoggerLogHasNoLevel",
     "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tENVIRONMENT VARIABLES: {}\n", "dotnet", "", kRid,
     "ENVIRONMENT VARIABLES: {}", "2024-05-02T11:00:00.000Z", ""},
    {"DotnetBeforeFirstInvokeHasEmptyRequestId", "2024-05-02T11:00:00.000Z\t\tinfo\tstarting\n", "dotnet", "info", "",
     "starting", "2024-05-02T11:00:00.000Z", ""},
    {"DotnetExceptionKeptWhole",
     "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tfail\tSystem.Exception: boom\n   at "
     "Function.Handler()\n",
     "dotnet", "error", kRid, "System.Exception: boom\n   at Function.Handler()", "2024-05-02T11:00:00.000Z", ""},

    // Ruby
    {"RubyInfoLine",
     "I, [2024-05-02T11:00:00.112345 #8]  INFO c0ffee00-1111-4222-8333-944455556666 -- : ruby says hi\n", "ruby",
     "info", kRid, "ruby says hi", "2024-05-02T11:00:00.112Z", ""},
    {"RubyWarnWithProgname",
     "W, [2024-05-02T11:00:00.112345 #8]  WARN c0ffee00-1111-4222-8333-944455556666 -- orders: slow call", "ruby",
     "warn", kRid, "slow call", "2024-05-02T11:00:00.112Z", ""},
    {"RubyErrorBeforeFirstInvokeHasNoRequestId", "E, [2024-05-02T11:00:00.000001 #1234] ERROR  -- : boom\n", "ruby",
     "error", "", "boom", "2024-05-02T11:00:00.000Z", ""},
    {"RubyDebugLine", "D, [2024-05-02T11:00:00.999999 #8] DEBUG c0ffee00-1111-4222-8333-944455556666 -- : d", "ruby",
     "debug", kRid, "d", "2024-05-02T11:00:00.999Z", ""},
    {"RubyFatalLine", "F, [2024-05-02T11:00:00.000000 #8] FATAL c0ffee00-1111-4222-8333-944455556666 -- : f", "ruby",
     "fatal", kRid, "f", "2024-05-02T11:00:00.000Z", ""},
    {"RubyAnySeverityHasNoLevel",
     "A, [2024-05-02T11:00:00.000000 #8]   ANY c0ffee00-1111-4222-8333-944455556666 -- : whatever", "ruby", "", kRid,
     "whatever", "2024-05-02T11:00:00.000Z", ""},
    {"RubyMessageWithColonKept",
     "I, [2024-05-02T11:00:00.000000 #8]  INFO c0ffee00-1111-4222-8333-944455556666 -- : key: value", "ruby", "info",
     kRid, "key: value", "2024-05-02T11:00:00.000Z", ""},
    {"RubySeverityLetterMismatchIsPlain",
     "E, [2024-05-02T11:00:00.112345 #8]  INFO c0ffee00-1111-4222-8333-944455556666 -- : x", "plain", "", "",
     "E, [2024-05-02T11:00:00.112345 #8]  INFO c0ffee00-1111-4222-8333-944455556666 -- : x", "", ""},

    // Go
    {"GoStandardLog", "2024/05/02 11:00:00 go handler started\n", "go", "", "", "go handler started",
     "2024-05-02T11:00:00.000Z", ""},
    {"GoDocsExample", "2020/03/27 03:40:05 EVENT: {\"Records\":[]}", "go", "", "", "EVENT: {\"Records\":[]}",
     "2020-03-27T03:40:05.000Z", ""},
    {"GoWithMicroseconds", "2020/03/27 03:40:05.123456 main.go:12: started", "go", "", "", "main.go:12: started",
     "2020-03-27T03:40:05.123Z", ""},

    // The platform's lines
    {"BareTimeoutLineIsSandboxTimeout", "Task timed out after 5.01 seconds", "plain", "error", "",
     "Task timed out after 5.01 seconds", "", "Sandbox.Timeout"},
    {"PrefixedTimeoutLineCarriesTimeAndRequestId",
     "2024-05-02T11:00:05.123Z 8f507cfc-xmpl-4697-b07a-ac58fc914c95 Task timed out after 5.01 seconds\n", "plain",
     "error", "8f507cfc-xmpl-4697-b07a-ac58fc914c95", "Task timed out after 5.01 seconds", "2024-05-02T11:00:05.123Z",
     "Sandbox.Timeout"},
    {"TabPrefixedTimeoutLine",
     "2024-05-02T11:00:05.123Z\t8f507cfc-xmpl-4697-b07a-ac58fc914c95\tTask timed out after 3.00 seconds", "plain",
     "error", "8f507cfc-xmpl-4697-b07a-ac58fc914c95", "Task timed out after 3.00 seconds", "2024-05-02T11:00:05.123Z",
     "Sandbox.Timeout"},
    {"TimeoutWordsWithoutDurationArePlain", "Task timed out after all", "plain", "", "", "Task timed out after all", "",
     ""},
    {"RuntimeExitErrorLine",
     "RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95 Error: Runtime exited with error: exit status 1\n"
     "Runtime.ExitError\n",
     "plain", "error", "8f507cfc-xmpl-4697-b07a-ac58fc914c95",
     "Error: Runtime exited with error: exit status 1\nRuntime.ExitError", "", "Runtime.ExitError"},
    {"ProcessExitedLine", "RequestId: d783b35e-a91d-4251-af17-035953428a2c Process exited before completing request",
     "plain", "error", "d783b35e-a91d-4251-af17-035953428a2c", "Process exited before completing request", "", ""},
    {"PlatformPrefixedLineWithoutLevel", "2024-05-02T11:00:05.123Z 8f507cfc-xmpl-4697-b07a-ac58fc914c95 something else",
     "plain", "", "8f507cfc-xmpl-4697-b07a-ac58fc914c95", "something else", "2024-05-02T11:00:05.123Z", ""},

    // Plain lines and near misses
    {"EmptyRecordIsPlainAndEmpty", "", "plain", "", "", "", "", ""},
    {"NewlineOnlyRecordIsPlainAndEmpty", "\r\n", "plain", "", "", "", "", ""},
    {"PrintLineIsPlain", "hello from print()\n", "plain", "", "", "hello from print()", "", ""},
    {"PlainMultiLineKeptWhole", "ERROR encountered. Stack trace:\n\\my-function (line 10)\n", "plain", "", "",
     "ERROR encountered. Stack trace:\n\\my-function (line 10)", "", ""},
    {"LeadingWhitespaceLineIsPlain", "  [INFO] indented continuation", "plain", "", "",
     "  [INFO] indented continuation", "", ""},
    {"MessageStartingWithDateOnlyIsPlain", "2024-05-02 is release day", "plain", "", "", "2024-05-02 is release day",
     "", ""},
    {"MessageStartingWithTimeButNoRequestIdIsPlain", "2024-05-02T11:00:00.000Z deployment finished", "plain", "", "",
     "2024-05-02T11:00:00.000Z deployment finished", "", ""},
    {"TimeFollowedByNonRequestIdIsPlain", "2024-05-02T11:00:00.102Z\tnot-a-request-id\tINFO\tmsg", "plain", "", "",
     "2024-05-02T11:00:00.102Z\tnot-a-request-id\tINFO\tmsg", "", ""},
    {"InvalidMonthIsPlain", "2024-13-02T11:00:00.102Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tmsg", "plain", "",
     "", "2024-13-02T11:00:00.102Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tmsg", "", ""},
    {"ZonelessIsoTimeIsPlain", "2024-05-02T11:00:00.102\tc0ffee00-1111-4222-8333-944455556666\tINFO\tmsg", "plain", "",
     "", "2024-05-02T11:00:00.102\tc0ffee00-1111-4222-8333-944455556666\tINFO\tmsg", "", ""},
    {"RequestIdOneDigitShortIsPlain", "2024-05-02T11:00:00.102Z\tc0ffee00-1111-4222-8333-94445555666\tINFO\tmsg",
     "plain", "", "", "2024-05-02T11:00:00.102Z\tc0ffee00-1111-4222-8333-94445555666\tINFO\tmsg", "", ""},
    {"RequestIdWithTooManyLettersIsPlain", "2024-05-02T11:00:00.102Z\tzzzzzz00-1111-4222-8333-944455556666\tINFO\tmsg",
     "plain", "", "", "2024-05-02T11:00:00.102Z\tzzzzzz00-1111-4222-8333-944455556666\tINFO\tmsg", "", ""},
    {"Log4jShapeWithoutLevelIsPlain", "2024-05-02 11:00:00 c0ffee00-1111-4222-8333-944455556666 hello", "plain", "", "",
     "2024-05-02 11:00:00 c0ffee00-1111-4222-8333-944455556666 hello", "", ""},
    {"Log4jShapeWithLowercaseLevelIsPlain", "2024-05-02 11:00:00 info hello", "plain", "", "",
     "2024-05-02 11:00:00 info hello", "", ""},
    {"GoDateWithoutTimeIsPlain", "2024/05/02 shipped", "plain", "", "", "2024/05/02 shipped", "", ""},
    {"GoShapeWithBadMonthIsPlain", "2024/13/02 11:00:00 x", "plain", "", "", "2024/13/02 11:00:00 x", "", ""},
    {"BracketedNonLevelIsPlain", "[logship] subscribed, listener on sandbox.localdomain:4243", "plain", "", "",
     "[logship] subscribed, listener on sandbox.localdomain:4243", "", ""},
    {"BracketedLevelGluedToTextIsPlain", "[INFO]x", "plain", "", "", "[INFO]x", "", ""},
    {"BracketedLowercaseLevelIsPlain", "[info] lower", "plain", "", "", "[info] lower", "", ""},
    {"EmptyBracketsArePlain", "[]", "plain", "", "", "[]", "", ""},
    {"RubyLookalikeIsPlain", "I, [not a ruby line", "plain", "", "", "I, [not a ruby line", "", ""},
    {"RequestIdPrefixWithBadIdIsPlain", "RequestId: 42 Error: nope", "plain", "", "", "RequestId: 42 Error: nope", "",
     ""},
    {"PlatformReportLineIsPlainHere", "REPORT RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95\tDuration: 15.74 ms\t",
     "plain", "", "", "REPORT RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95\tDuration: 15.74 ms\t", "", ""},
    {"UnicodeMessagePreserved",
     "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tgr\u00fc\u00dfe \u65e5\u672c "
     "\U0001F680\n",
     "nodejs", "info", kRid, "gr\u00fc\u00dfe \u65e5\u672c \U0001F680", "2024-05-02T11:00:00.000Z", ""},
    {"ControlCharactersAndNulPreserved",
     "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tbell\x07 nul\0 esc\x1b[0m end\n"sv,
     "nodejs", "info", kRid, "bell\x07 nul\0 esc\x1b[0m end"sv, "2024-05-02T11:00:00.000Z", ""},
    {"InvalidUtf8Preserved", "[INFO] bytes \xff\xfe\xc3", "java", "info", "", "bytes \xff\xfe\xc3", "", ""},
};

class ParseLogLineTable : public ::testing::TestWithParam<Case> {};

TEST_P(ParseLogLineTable, ParsesToExpectedFields) {
  const Case& c = GetParam();
  const ParsedLine got = parse_log_line(c.record);
  expect_parsed(got, c);
  EXPECT_TRUE(inside(got.message, c.record));
  EXPECT_TRUE(inside(got.request_id, c.record));
}

INSTANTIATE_TEST_SUITE_P(Formats, ParseLogLineTable, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------------
// Every `function` string record of the sample batches.

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Expected {
  std::string_view format, level, request_id, message, timestamp, error_type;
};

const std::map<std::string_view, Expected>& sample_expectations() {
  static const std::map<std::string_view, Expected> kExpected = {
      // function-text-logs-multi-runtime.json
      {"2024-05-02T11:00:00.102Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tuser signed in\n",
       {"nodejs", "info", kRid, "user signed in", "2024-05-02T11:00:00.102Z", ""}},
      {"2024-05-02T11:00:00.103Z\tc0ffee00-1111-4222-8333-944455556666\tERROR\tInvoke Error "
       "\t{\"errorType\":\"TypeError\",\"errorMessage\":\"Cannot read properties of undefined (reading "
       "'id')\",\"stack\":[\"TypeError: Cannot read properties of undefined (reading 'id')\",\"    at Runtime.handler "
       "(file:///var/task/index.mjs:4:21)\"]}\n",
       {"nodejs", "error", kRid,
        "Invoke Error \t{\"errorType\":\"TypeError\",\"errorMessage\":\"Cannot read properties of undefined (reading "
        "'id')\",\"stack\":[\"TypeError: Cannot read properties of undefined (reading 'id')\",\"    at "
        "Runtime.handler (file:///var/task/index.mjs:4:21)\"]}",
        "2024-05-02T11:00:00.103Z", "TypeError"}},
      {"[INFO]\t2024-05-02T11:00:00.104Z\tc0ffee00-1111-4222-8333-944455556666\tfetched 3 rows\n",
       {"python", "info", kRid, "fetched 3 rows", "2024-05-02T11:00:00.104Z", ""}},
      {"[ERROR]\t2024-05-02T11:00:00.105Z\tc0ffee00-1111-4222-8333-944455556666\tdb timeout after 3.0s\n",
       {"python", "error", kRid, "db timeout after 3.0s", "2024-05-02T11:00:00.105Z", ""}},
      {"hello from print()\n", {"plain", "", "", "hello from print()", "", ""}},
      {"[INFO] OrderHandler - processing order 42", {"java", "info", "", "OrderHandler - processing order 42", "", ""}},
      {"plain System.out line", {"plain", "", "", "plain System.out line", "", ""}},
      {"2024-05-02 11:00:00 c0ffee00-1111-4222-8333-944455556666 INFO  OrderHandler:27 - ENVIRONMENT VARIABLES "
       "loaded\n",
       {"java", "info", kRid, "OrderHandler:27 - ENVIRONMENT VARIABLES loaded", "2024-05-02T11:00:00.000Z", ""}},
      {"2024-05-02T11:00:00.110Z\tc0ffee00-1111-4222-8333-944455556666\tinfo\tHello from .NET\n",
       {"dotnet", "info", kRid, "Hello from .NET", "2024-05-02T11:00:00.110Z", ""}},
      {"2024-05-02T11:00:00.111Z\tc0ffee00-1111-4222-8333-944455556666\tfail\tSomething failed\n",
       {"dotnet", "error", kRid, "Something failed", "2024-05-02T11:00:00.111Z", ""}},
      {"I, [2024-05-02T11:00:00.112345 #8]  INFO c0ffee00-1111-4222-8333-944455556666 -- : ruby says hi\n",
       {"ruby", "info", kRid, "ruby says hi", "2024-05-02T11:00:00.112Z", ""}},
      {"2024/05/02 11:00:00 go handler started\n",
       {"go", "", "", "go handler started", "2024-05-02T11:00:00.000Z", ""}},
      // platform-cold-start-invocation.json / .ndjson
      {"2024-05-02T10:15:30.498Z\tundefined\tINFO\tLoading config from SSM\n",
       {"nodejs", "info", "", "Loading config from SSM", "2024-05-02T10:15:30.498Z", ""}},
      {"2024-05-02T10:15:30.520Z\t8476a536-e9f4-4b1a-9f5a-2e8c1a0f3b7d\tINFO\tProcessing order 42\n",
       {"nodejs", "info", "8476a536-e9f4-4b1a-9f5a-2e8c1a0f3b7d", "Processing order 42", "2024-05-02T10:15:30.520Z",
        ""}},
      {"2024-05-02T10:15:30.601Z\t8476a536-e9f4-4b1a-9f5a-2e8c1a0f3b7d\tWARN\tInventory low {\n  sku: 'A-17',\n  left: "
       "3\n}\n",
       {"nodejs", "warn", "8476a536-e9f4-4b1a-9f5a-2e8c1a0f3b7d", "Inventory low {\n  sku: 'A-17',\n  left: 3\n}",
        "2024-05-02T10:15:30.601Z", ""}},
      // logs-api-batch-2021-03-18.json
      {"Function: Logging something which logging extension will send to S3\n",
       {"plain", "", "", "Function: Logging something which logging extension will send to S3", "", ""}},
      {"ERROR encountered. Stack trace:\n\\my-function (line 10)\n",
       {"plain", "", "", "ERROR encountered. Stack trace:\n\\my-function (line 10)", "", ""}},
      // function-json-logs.json
      {"print() output is not structured\n", {"plain", "", "", "print() output is not structured", "", ""}},
  };
  return kExpected;
}

void collect_function_strings(const boost::json::value& event, std::vector<std::string>& out) {
  const auto* obj = event.if_object();
  if (obj == nullptr) return;
  const auto* type = obj->if_contains("type");
  const auto* record = obj->if_contains("record");
  if (type && type->is_string() && type->get_string() == "function" && record && record->is_string())
    out.emplace_back(record->get_string());
}

TEST(ParseLogLineSamples, EveryFunctionStringRecordInSampleFilesParsesToExpectedFields) {
  std::vector<std::string> records;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(ELK_TEST_DATA "/telemetry")) {
    const auto ext = entry.path().extension();
    if (ext != ".json" && ext != ".ndjson") continue;
    ++files;
    const std::string body = read_file(entry.path());
    if (ext == ".json") {
      const auto doc = boost::json::parse(body);
      ASSERT_TRUE(doc.is_array()) << entry.path();
      for (const auto& event : doc.as_array()) collect_function_strings(event, records);
    } else {
      std::istringstream lines(body);
      for (std::string line; std::getline(lines, line);)
        if (!line.empty()) collect_function_strings(boost::json::parse(line), records);
    }
  }
  ASSERT_GE(files, 5);
  ASSERT_GE(records.size(), 20u);

  const auto& expected = sample_expectations();
  std::map<std::string_view, int> seen;
  for (const std::string& record : records) {
    const auto it = expected.find(record);
    ASSERT_NE(it, expected.end()) << "no expectation for sample record: " << record;
    ++seen[it->first];
    const ParsedLine got = parse_log_line(record);
    const Expected& want = it->second;
    SCOPED_TRACE(record);
    expect_parsed(
        got, Case{"", record, want.format, want.level, want.request_id, want.message, want.timestamp, want.error_type});
  }
  for (const auto& [record, want] : expected) EXPECT_GT(seen[record], 0) << "stale expectation: " << record;
}

// ---------------------------------------------------------------------------------------------------
// Behaviour beyond single records.

TEST(ParseLogLine, ViewsPointIntoTheRecordNotACopy) {
  const std::string record = "[INFO]\t2024-05-02T11:00:00.104Z\tc0ffee00-1111-4222-8333-944455556666\tfetched\n";
  const ParsedLine got = parse_log_line(record);
  EXPECT_EQ(got.message.data(), record.data() + record.find("fetched"));
  EXPECT_EQ(got.request_id.data(), record.data() + record.find("c0ffee00"));
}

// A line's own time outside years 0000-9999 in UTC is no time (the document takes Lambda's); the rest of the
// line reads as before.
TEST(ParseLogLine, ATimeOutOfRangeIsNoTime) {
  const std::string rest = "\tc0ffee00-1111-4222-8333-944455556666\tINFO\tx";
  for (const char* time : {"0000-01-01T00:30:00.000+01:00", "9999-12-31T23:30:00.000-01:00"}) {
    const std::string record = time + rest;
    const ParsedLine got = parse_log_line(record);
    EXPECT_FALSE(got.timestamp) << time << ": " << format_iso8601_ms(got.timestamp.value_or(EpochMs{0}));
    EXPECT_NE(got.message.find("x"), std::string_view::npos) << time;  // kept, read as plain text
  }
  const std::string in_range = "9999-12-31T22:30:00.000-01:00" + rest;
  const ParsedLine last = parse_log_line(in_range);
  ASSERT_TRUE(last.timestamp);
  EXPECT_EQ(format_iso8601_ms(*last.timestamp), "9999-12-31T23:30:00.000Z");
}

TEST(ParseLogLine, HugeMultiLineNodeRecordKeepsWholeMessage) {
  std::string body;
  while (body.size() < (1u << 20)) body += "    at frame (file:///var/task/index.mjs:4:21)\n";
  const std::string record = "2024-05-02T11:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tERROR\tboom\n" + body;
  const ParsedLine got = parse_log_line(record);
  EXPECT_EQ(got.format, "nodejs");
  EXPECT_EQ(got.level, "error");
  EXPECT_EQ(got.message.size(), 5 + body.size() - 1);  // "boom\n" + body without its final \n
  EXPECT_EQ(got.message.substr(0, 5), "boom\n");
}

TEST(ParseLogLine, HugeRecordWithoutBlanksAfterATimeIsPlain) {
  const std::string record = "2024-05-02T11:00:00.000Z" + std::string(1u << 20, 'x');
  const ParsedLine got = parse_log_line(record);
  EXPECT_EQ(got.format, "plain");
  EXPECT_EQ(got.message.size(), record.size());
  EXPECT_FALSE(got.timestamp);
}

TEST(ParseLogLine, HugeErrorRecordWithTracebackLookalikesStaysJava) {
  std::string record = "[ERROR] Oops: ";
  while (record.size() < (1u << 20)) record += "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTraceback (most recent call last)";
  const ParsedLine got = parse_log_line(record);
  EXPECT_EQ(got.format, "java");
  EXPECT_EQ(got.error_type, "");
}

TEST(ParseLogLine, HugePythonUncaughtErrorFindsTracebackAtTheEnd) {
  std::string record = "[ERROR] ValueError: " + std::string(1u << 20, 'v') + "\nTraceback (most recent call last):\n";
  const ParsedLine got = parse_log_line(record);
  EXPECT_EQ(got.format, "python");
  EXPECT_EQ(got.error_type, "ValueError");
}

TEST(ParseLogLine, LevelAndFormatAreAlwaysKnownLiterals) {
  for (const Case& c : kCases) {
    const ParsedLine got = parse_log_line(c.record);
    EXPECT_TRUE(got.level == "" || got.level == "trace" || got.level == "debug" || got.level == "info" ||
                got.level == "warn" || got.level == "error" || got.level == "fatal")
        << c.name;
    EXPECT_FALSE(got.format.empty()) << c.name;
  }
}

TEST(ParseLogLine, MessageNeverEndsWithLineBreak) {
  for (std::string_view record : {"x\n\n\r", "\n\n", "[INFO]\t\r\n", "2024/05/02 11:00:00 \r"}) {
    const ParsedLine got = parse_log_line(record);
    EXPECT_TRUE(got.message.empty() || (got.message.back() != '\n' && got.message.back() != '\r')) << record;
  }
}

// ---------------------------------------------------------------------------------------------------

struct RequestIdCase {
  std::string_view token;
  bool accepted;
};

void PrintTo(const RequestIdCase& c, std::ostream* os) {
  *os << c.token;
}

class LooksLikeRequestIdTable : public ::testing::TestWithParam<RequestIdCase> {};

TEST_P(LooksLikeRequestIdTable, AcceptsUuidShapedTokensOnly) {
  EXPECT_EQ(looks_like_request_id(GetParam().token), GetParam().accepted) << GetParam().token;
}

INSTANTIATE_TEST_SUITE_P(Tokens, LooksLikeRequestIdTable,
                         ::testing::Values(RequestIdCase{"c0ffee00-1111-4222-8333-944455556666", true},
                                           RequestIdCase{"8f507cfc-xmpl-4697-b07a-ac58fc914c95", true},
                                           RequestIdCase{"6f7f0961f83442118a7af6fe80b88d56", true},
                                           RequestIdCase{"C0FFEE00-1111-4222-8333-944455556666", true},
                                           RequestIdCase{"", false}, RequestIdCase{"undefined", false},
                                           RequestIdCase{"c0ffee00-1111-4222-8333-94445555666", false},
                                           RequestIdCase{"c0ffee00-1111-4222-8333-9444555566667", false},
                                           RequestIdCase{"-c0ffee00-1111-4222-8333-94445555666", false},
                                           RequestIdCase{"c0ffee00--111-4222-8333-944455556666", false},
                                           RequestIdCase{"c0ffee00-1111-4222-8333-94445555666-", false},
                                           RequestIdCase{"c0ffee00_1111_4222_8333_944455556666", false},
                                           RequestIdCase{"zzzzzz00-1111-4222-8333-944455556666", false},
                                           RequestIdCase{"c0ffee00-1111-4222-8333 944455556666", false}));

// The enricher passes its time reader (the minute of the last time read is kept): the result is what
// parse_log_line alone gives, line by line, whatever came before, at a minute's change and for times that
// are not Lambda's form or not valid.
TEST(ParseLogLine, WithATimeReaderGivesTheSameFields) {
  const std::vector<std::string> lines = {
      "2024-05-02T11:00:00.102Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tfirst",
      "2024-05-02T11:00:59.999Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tsame minute",
      "2024-05-02T11:00:60.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tleap second",
      "2024-05-02T11:00:61.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tno such second",
      "2024-05-02T11:00:1x.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tnot digits",
      "2024-05-02T11:01:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tnext minute",
      "2024-02-30T23:59:59.999Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tday past the month's end",
      "2024-13-02T11:00:00.102Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tno such month",
      "0000-01-01T00:00:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tyear zero",
      "2024-05-02T11:01:00.5Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tone decimal",
      "2024-05-02T11:01:00.123456Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tmicroseconds",
      "2024-05-02T13:01:00.000+02:00\tc0ffee00-1111-4222-8333-944455556666\tINFO\twith an offset",
      "2024-05-02T11:01:00.000Zx\tc0ffee00-1111-4222-8333-944455556666\tINFO\tnot a token",
      "2024-05-02T11:01:00.000Z",
      "[INFO]\t2024-05-02T11:01:02.003Z\tc0ffee00-1111-4222-8333-944455556666\tpython",
      "[INFO]\t2024-05-02T11:01:02.003Z\t\tbefore the first invoke",
      "2024-05-02 11:01:02 c0ffee00-1111-4222-8333-944455556666 INFO  Handler - log4j",
      "2024/05/02 11:01:02 go",
      "2024-05-02T11:01:00.000Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tback to a kept minute",
  };
  elk::LambdaTimeReader reader;
  for (const auto& line : lines) {
    const auto alone = parse_log_line(line);
    const auto with = parse_log_line(line, &reader);
    EXPECT_EQ(with.timestamp, alone.timestamp) << line;
    EXPECT_EQ(with.request_id, alone.request_id) << line;
    EXPECT_EQ(with.level, alone.level) << line;
    EXPECT_EQ(with.message, alone.message) << line;
    EXPECT_EQ(with.format, alone.format) << line;
    EXPECT_EQ(with.error_type, alone.error_type) << line;
  }
}

}  // namespace
}  // namespace elk::pipeline
