// Inputs the fuzz targets (tests/fuzz) found mishandled in the server's request
// decoding, kept as tests; each is also in its target's seed corpus.
#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <string>

#include "schema/wire.capnp.h"
#include "tools/server/wire_json.h"

namespace authledger::server {
namespace {

// Decodes `json` into a fresh `member` of Request.body.
Status Decode(const char* member, const std::string& json) {
  capnp::MallocMessageBuilder message;
  auto body = capnp::toDynamic(message.initRoot<wire::Request>().getBody());
  auto field = body.getSchema().getFieldByName(member);
  return DecodeJson(json, body.init(field).as<capnp::DynamicStruct>());
}

// fuzz_wire_json: a decimal string of a 64-bit field made only of '-' reached std::stod,
// whose std::invalid_argument escaped the decoder's kj::Exception handler.
TEST(WireJsonFuzzRegression, AMinusSignAloneIsNotANumber) {
  for (const char* bad : {"-", "--", "-1-", "1-2"}) {
    Status s = Decode("checkToken",
                      std::string(R"({"token":"t","org_id":"acme","time_us":")") + bad + "\"}");
    EXPECT_EQ(s.reason(), "invalid_request") << bad;
  }
  EXPECT_TRUE(Decode("checkToken", R"({"token":"t","org_id":"acme","time_us":"-12"})").ok());
}

// fuzz_wire_json: a negative decimal string wrapped around into an unsigned field.
TEST(WireJsonFuzzRegression, ANegativeStringIsRefusedForAnUnsignedField) {
  EXPECT_EQ(Decode("updatePolicy", R"({"org_id":"acme","expected_version":"-1"})").reason(),
            "invalid_request");
  EXPECT_TRUE(Decode("updatePolicy", R"({"org_id":"acme","expected_version":"7"})").ok());
}

}  // namespace
}  // namespace authledger::server
