// Inputs the fuzz targets (tests/fuzz) found mishandled in the server's request
// decoding and binary protocol, kept as tests; each is also in its target's seed corpus.
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

// fuzz_wire_json: a form feed re-encoded as "\u000c" came back as U+0002: Cap'n Proto
// 0.9's JSON parser reads the hex digits a-f of a \u escape as 0-5 (json_parse.h).
TEST(WireJsonFuzzRegression, AFormFeedAndEscapedBackslashUSurviveReencoding) {
  capnp::MallocMessageBuilder message;
  auto check = message.initRoot<wire::Request>().getBody().initCheckToken();
  ASSERT_TRUE(
      DecodeJson(R"({"token":"\\u000c\f\u000c","org_id":"acme"})", capnp::toDynamic(check)).ok());
  EXPECT_EQ(std::string(check.asReader().getToken().cStr()), "\\u000c\f\f");
  const std::string encoded = EncodeJson(capnp::toDynamic(check.asReader()));
  capnp::MallocMessageBuilder again_message;
  auto again = again_message.initRoot<wire::Request>().getBody().initCheckToken();
  ASSERT_TRUE(DecodeJson(encoded, capnp::toDynamic(again)).ok()) << encoded;
  EXPECT_EQ(std::string(again.asReader().getToken().cStr()), "\\u000c\f\f") << encoded;
  EXPECT_EQ(EncodeJson(capnp::toDynamic(again.asReader())), encoded);
}

}  // namespace
}  // namespace authledger::server
