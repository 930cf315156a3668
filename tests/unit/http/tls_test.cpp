#include "http/tls.h"

#include <gtest/gtest.h>

#include <map>

#include "../test_util.h"

namespace elk::http {
namespace {

Getenv env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

struct CaDiscovery : ::testing::Test {
  test::TempDir dir;
  std::string bundle_a = file("a.pem");
  std::string bundle_b = file("b.pem");
  std::string certs_dir = directory("certs");
  std::string missing = (dir.path / "missing.pem").string();
  std::vector<std::string_view> well_known;

  std::string file(const std::string& name) {
    const auto p = dir.path / name;
    std::ofstream(p) << "not read here\n";
    return p.string();
  }
  std::string directory(const std::string& name) {
    const auto p = dir.path / name;
    std::filesystem::create_directories(p);
    return p.string();
  }
  Result<CaCertificates> find(std::string_view ca_file, const Getenv& getenv) {
    return find_ca_certificates(ca_file, getenv, well_known);
  }
};

TEST_F(CaDiscovery, UsesTheCaFileSettingBeforeTheEnvironment) {
  well_known = {bundle_b};
  const auto found = find(bundle_a, env({{"SSL_CERT_FILE", bundle_b}, {"SSL_CERT_DIR", certs_dir}}));
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->files, std::vector<std::string>{bundle_a});
  EXPECT_TRUE(found->dirs.empty());
  EXPECT_EQ(found->source, bundle_a);
}

TEST_F(CaDiscovery, FailsWhenTheCaFileSettingNamesNoFile) {
  well_known = {bundle_b};
  const auto found = find(missing, env({}));
  ASSERT_FALSE(found);
  EXPECT_NE(found.error().message.find(missing), std::string::npos) << found.error().message;
}

TEST_F(CaDiscovery, UsesSslCertFileBeforeTheWellKnownPaths) {
  well_known = {bundle_b};
  const auto found = find("", env({{"SSL_CERT_FILE", bundle_a}}));
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->files, std::vector<std::string>{bundle_a});
  EXPECT_EQ(found->source, "SSL_CERT_FILE=" + bundle_a);
}

TEST_F(CaDiscovery, UsesSslCertFileAndSslCertDirTogetherAsOpensslDoes) {
  well_known = {bundle_b};
  const auto found = find("", env({{"SSL_CERT_FILE", bundle_a}, {"SSL_CERT_DIR", certs_dir}}));
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->files, std::vector<std::string>{bundle_a});
  EXPECT_EQ(found->dirs, std::vector<std::string>{certs_dir});
}

TEST_F(CaDiscovery, UsesTheExistingDirectoriesOfSslCertDir) {
  well_known = {bundle_b};
  const auto found = find("", env({{"SSL_CERT_DIR", missing + ":" + certs_dir}}));
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_TRUE(found->files.empty());
  EXPECT_EQ(found->dirs, std::vector<std::string>{certs_dir});
}

TEST_F(CaDiscovery, PassesOverEnvironmentPathsThatDoNotExist) {
  well_known = {bundle_b};
  const auto found = find("", env({{"SSL_CERT_FILE", missing}, {"SSL_CERT_DIR", missing}}));
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->files, std::vector<std::string>{bundle_b});
}

TEST_F(CaDiscovery, TakesTheFirstWellKnownFileThatExists) {
  well_known = {missing, bundle_b, bundle_a};
  const auto found = find("", env({{"SSL_CERT_FILE", ""}}));
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->files, std::vector<std::string>{bundle_b});
  EXPECT_EQ(found->source, bundle_b);
}

TEST_F(CaDiscovery, FailsSayingWhatWasTriedAndWhatToSet) {
  well_known = {missing};
  const auto found = find("", env({{"SSL_CERT_DIR", certs_dir + "/nope"}}));
  ASSERT_FALSE(found);
  const auto& m = found.error().message;
  EXPECT_EQ(m.rfind("no CA certificates found: set SSL_CERT_FILE", 0), 0u) << m;
  EXPECT_NE(m.find("SSL_CERT_FILE (not set)"), std::string::npos) << m;
  EXPECT_NE(m.find("SSL_CERT_DIR=" + certs_dir + "/nope"), std::string::npos) << m;
  EXPECT_NE(m.find(missing), std::string::npos) << m;
}

TEST(WellKnownCaFiles, StartWithAmazonLinuxThenDebian) {
  EXPECT_EQ(well_known_ca_files[0], "/etc/pki/tls/certs/ca-bundle.crt");
  EXPECT_EQ(well_known_ca_files[1], "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(well_known_ca_files[2], "/etc/ssl/cert.pem");
}

}  // namespace
}  // namespace elk::http
