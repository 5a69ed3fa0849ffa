// Fuzz target: the server's binary protocol (tools/server/frame_protocol.h) without
// sockets. The input is one connection's byte stream and how the network cuts it into
// reads (frame_input.h); the stream goes through FrameDecoder, then through
// FrameProtocol answering with the Service and engine of service_fixture.h, read by read
// as the server's binary connections do (blocking requests answered on this thread).
//
// Checked:
// - the frames do not depend on the cuts: the same as the stream read whole, and the
//   same as reading the headers by hand (a length over the limit ends the stream, a
//   length that is not whole 8-byte words is a malformed frame, the rest are messages);
//   between reads, the decoder is idle exactly when it holds no partial frame;
// - every frame gets exactly one answer, in order, and nothing else is written: each
//   answer a frame of one wire::Response; frame_too_large (id 0) for an oversize length,
//   after which the connection closes; malformed_frame (id 0) for a malformed frame or
//   one that is not a Request; otherwise the request's id echoed (or malformed_frame, id
//   0, if reading it failed part-way); every error with a non-empty reason.
// Seeds: framed requests, pipelined, truncated, malformed and oversize (make_seeds.cc).
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/wire.capnp.h"
#include "tests/fuzz/frame_input.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/service_fixture.h"
#include "tools/server/frame_protocol.h"

namespace {

using authledger::fuzz::FrameInput;
using authledger::fuzz::ServiceFixture;
using authledger::server::FrameDecoder;
using authledger::server::FrameProtocol;
using Kind = FrameDecoder::Frame::Kind;

// Small, so that inputs of a few KiB reach the limit (the server's default is 64 KiB).
constexpr std::size_t kMaxFrameBytes = 1024;

struct Taken {
  Kind kind;
  std::uint32_t length;
  std::string bytes;  // kMessage
  bool operator==(const Taken&) const = default;
};

std::uint32_t U32(std::string_view bytes) {
  std::uint32_t n = 0;
  for (int i = 3; i >= 0; --i) n = n << 8 | static_cast<std::uint8_t>(bytes[i]);
  return n;
}

// The frames of `stream` read by hand from the documented format; *end is where the
// last whole frame ends.
std::vector<Taken> Expected(std::string_view stream, std::size_t* end) {
  std::vector<Taken> frames;
  std::size_t at = 0;
  while (stream.size() - at >= 4) {
    const std::uint32_t length = U32(stream.substr(at, 4));
    if (length > kMaxFrameBytes) {
      frames.push_back({Kind::kTooLarge, length, {}});
      break;
    }
    if (stream.size() - at - 4 < length) break;
    const bool whole_words = length >= 8 && length % 8 == 0;
    frames.push_back({whole_words ? Kind::kMessage : Kind::kMalformed, length,
                      whole_words ? std::string(stream.substr(at + 4, length)) : std::string()});
    at += 4 + length;
  }
  *end = at;
  return frames;
}

// Takes every buffered frame; false once the stream has ended (kTooLarge).
bool Drain(FrameDecoder& decoder, std::vector<Taken>& frames, std::size_t* taken) {
  while (true) {
    FrameDecoder::Frame frame = decoder.Next();
    if (frame.kind == Kind::kNeedMore) return true;
    std::string bytes;
    if (frame.kind == Kind::kMessage) {
      FUZZ_CHECK(frame.words.size() * sizeof(capnp::word) == frame.length);
      const auto view = frame.words.asBytes();
      bytes.assign(reinterpret_cast<const char*>(view.begin()), view.size());
    } else {
      FUZZ_CHECK(frame.words.size() == 0);
    }
    frames.push_back({frame.kind, frame.length, std::move(bytes)});
    if (frame.kind == Kind::kTooLarge) {
      // The stream stays ended.
      FUZZ_CHECK(decoder.Next().kind == Kind::kTooLarge);
      return false;
    }
    *taken += 4 + frame.length;
  }
}

std::vector<Taken> Decode(const std::vector<std::string_view>& reads) {
  FrameDecoder decoder(kMaxFrameBytes);
  std::vector<Taken> frames;
  std::size_t received = 0;
  std::size_t taken = 0;
  for (std::string_view read : reads) {
    decoder.Receive(reinterpret_cast<const unsigned char*>(read.data()), read.size());
    received += read.size();
    if (!Drain(decoder, frames, &taken)) break;
    FUZZ_CHECK(decoder.idle() == (taken == received));
    FUZZ_CHECK(decoder.frames() == frames.size());
  }
  return frames;
}

// The id of the Request in `bytes`, or nullopt if it cannot be read as one.
std::optional<std::uint64_t> RequestId(const std::string& bytes) {
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  try {
    capnp::FlatArrayMessageReader reader(words, FrameDecoder(kMaxFrameBytes).reader_options());
    auto request = reader.getRoot<authledger::wire::Request>();
    static_cast<void>(request.getBody().which());
    return request.getId();
  } catch (const kj::Exception&) {
    return std::nullopt;
  }
}

struct Answer {
  std::uint64_t id;
  std::string reason;  // empty unless an error
};

// The answers written: whole frames of wire::Response, nothing else.
std::vector<Answer> Answers(std::string_view out) {
  std::vector<Answer> answers;
  while (!out.empty()) {
    FUZZ_CHECK(out.size() >= 4);
    const std::uint32_t length = U32(out);
    FUZZ_CHECK(length >= 8 && length % 8 == 0 && out.size() - 4 >= length);
    kj::Array<capnp::word> words = kj::heapArray<capnp::word>(length / sizeof(capnp::word));
    std::memcpy(words.begin(), out.data() + 4, length);
    out.remove_prefix(4 + length);
    capnp::FlatArrayMessageReader reader(words);
    auto response = reader.getRoot<authledger::wire::Response>();
    Answer answer{response.getId(), {}};
    if (response.getBody().isError()) {
      answer.reason = response.getBody().getError().getReason().cStr();
      FUZZ_CHECK(!answer.reason.empty());
    }
    answers.push_back(std::move(answer));
  }
  return answers;
}

ServiceFixture* fixture = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  static ServiceFixture instance;
  fixture = &instance;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const FrameInput input = authledger::fuzz::ParseFrameInput(
      std::string_view(reinterpret_cast<const char*>(data), size));
  const std::vector<std::string_view> reads = authledger::fuzz::Reads(input);

  std::size_t end = 0;
  const std::vector<Taken> expected = Expected(input.stream, &end);
  FUZZ_CHECK(Decode({input.stream}) == expected);
  FUZZ_CHECK(Decode(reads) == expected);

  FrameProtocol protocol(fixture->service(), "127.0.0.1", kMaxFrameBytes);
  std::string out;
  bool closed = false;
  for (std::string_view read : reads) {
    protocol.Receive(reinterpret_cast<const unsigned char*>(read.data()), read.size());
    FrameProtocol::Step step;
    while ((step = protocol.Next(out)) != FrameProtocol::Step::kNeedMore &&
           step != FrameProtocol::Step::kClose) {
      if (step == FrameProtocol::Step::kBlocking) protocol.AnswerBlocking(out);
    }
    if (step == FrameProtocol::Step::kClose) {
      closed = true;
      break;
    }
  }
  const bool too_large = !expected.empty() && expected.back().kind == Kind::kTooLarge;
  FUZZ_CHECK(closed == too_large);
  if (!closed) FUZZ_CHECK(protocol.idle() == (end == input.stream.size()));

  const std::vector<Answer> answers = Answers(out);
  FUZZ_CHECK(answers.size() == expected.size());
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const Answer& answer = answers[i];
    switch (expected[i].kind) {
      case Kind::kTooLarge:
        FUZZ_CHECK(answer.id == 0 && answer.reason == "frame_too_large");
        break;
      case Kind::kMalformed:
        FUZZ_CHECK(answer.id == 0 && answer.reason == "malformed_frame");
        break;
      case Kind::kMessage:
        if (auto id = RequestId(expected[i].bytes)) {
          FUZZ_CHECK(answer.id == *id || (answer.id == 0 && answer.reason == "malformed_frame"));
        } else {
          FUZZ_CHECK(answer.id == 0 && answer.reason == "malformed_frame");
        }
        break;
      case Kind::kNeedMore:
        FUZZ_CHECK(false);
    }
  }
  return 0;
}
