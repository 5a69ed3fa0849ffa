#include "tools/server/frame_protocol.h"

#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

namespace authledger::server {
namespace {

constexpr std::size_t kHeader = 4;
// First segment of an answer: a decision fits; bigger answers grow it.
constexpr unsigned kAnswerWords = 128;

std::uint32_t FrameLength(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

}  // namespace

void AppendFrame(capnp::MessageBuilder& message, std::string& out) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  const auto bytes = words.asBytes();
  const auto n = static_cast<std::uint32_t>(bytes.size());
  const unsigned char header[kHeader] = {
      static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
      static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 24)};
  out.append(reinterpret_cast<const char*>(header), kHeader);
  out.append(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

void AppendErrorFrame(std::string& out, std::uint64_t id, std::string_view reason,
                      std::string_view message) {
  capnp::MallocMessageBuilder builder;
  auto response = builder.initRoot<wire::Response>();
  response.setId(id);
  SetError(response, 400, reason, message);
  AppendFrame(builder, out);
}

FrameDecoder::FrameDecoder(std::size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {
  reader_options_.traversalLimitInWords = max_frame_bytes / sizeof(capnp::word) * 4;
  reader_options_.nestingLimit = 16;
}

void FrameDecoder::Receive(const unsigned char* data, std::size_t size) {
  if (consumed_ > 0) {  // drop what was taken before growing
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), data, data + size);
}

FrameDecoder::Frame FrameDecoder::Next() {
  Frame frame;
  if (buffer_.size() - consumed_ < kHeader) return frame;
  frame.length = FrameLength(buffer_.data() + consumed_);
  if (frame.length > max_frame_bytes_) {
    frame.kind = Frame::Kind::kTooLarge;
    return frame;
  }
  if (buffer_.size() - consumed_ - kHeader < frame.length) {
    frame.length = 0;
    return frame;
  }
  const unsigned char* data = buffer_.data() + consumed_ + kHeader;
  consumed_ += kHeader + frame.length;
  ++frames_;
  if (frame.length < sizeof(capnp::word) || frame.length % sizeof(capnp::word) != 0) {
    frame.kind = Frame::Kind::kMalformed;
    return frame;
  }
  // Copied: Cap'n Proto reads aligned words, and the buffer moves on.
  frame.kind = Frame::Kind::kMessage;
  frame.words = kj::heapArray<capnp::word>(frame.length / sizeof(capnp::word));
  std::memcpy(frame.words.begin(), data, frame.length);
  return frame;
}

FrameProtocol::FrameProtocol(Service& service, std::string peer_ip, std::size_t max_frame_bytes)
    : service_(service), peer_ip_(std::move(peer_ip)), decoder_(max_frame_bytes) {}

FrameProtocol::Step FrameProtocol::Next(std::string& out) {
  FrameDecoder::Frame frame = decoder_.Next();
  switch (frame.kind) {
    case FrameDecoder::Frame::Kind::kNeedMore:
      return Step::kNeedMore;
    case FrameDecoder::Frame::Kind::kTooLarge:
      AppendErrorFrame(
          out, 0, "frame_too_large",
          "frames are limited to " + std::to_string(decoder_.max_frame_bytes()) + " bytes");
      return Step::kClose;
    case FrameDecoder::Frame::Kind::kMalformed:
      AppendErrorFrame(out, 0, "malformed_frame", "a frame holds a whole number of 8-byte words");
      return Step::kAnswered;
    case FrameDecoder::Frame::Kind::kMessage:
      break;
  }
  try {
    capnp::FlatArrayMessageReader reader(frame.words, decoder_.reader_options());
    auto request = reader.getRoot<wire::Request>();
    if (Service::Blocking(request.getBody().which())) {
      pending_ = kj::mv(frame.words);
      return Step::kBlocking;
    }
    Answer(request, out);
  } catch (const kj::Exception& e) {
    AppendErrorFrame(out, 0, "malformed_frame",
                     std::string("not a request: ") + e.getDescription().cStr());
  }
  return Step::kAnswered;
}

void FrameProtocol::AnswerBlocking(std::string& out) {
  kj::Array<capnp::word> words = kj::mv(pending_);
  try {
    capnp::FlatArrayMessageReader reader(words, decoder_.reader_options());
    Answer(reader.getRoot<wire::Request>(), out);
  } catch (const kj::Exception& e) {
    AppendErrorFrame(out, 0, "malformed_frame",
                     std::string("not a request: ") + e.getDescription().cStr());
  }
}

void FrameProtocol::Answer(wire::Request::Reader request, std::string& out) {
  if (request.getBody().isAuthenticate()) {
    auto secret = request.getBody().getAuthenticate().getApiKey();
    key_ = service_.Authenticate(std::string_view(secret.cStr(), secret.size()));
  }
  capnp::MallocMessageBuilder builder(kAnswerWords);
  auto response = builder.initRoot<wire::Response>();
  service_.Handle(Caller{key_, peer_ip_}, request, response);
  auto answer = response.asReader();
  service_.metrics().CountRequest(
      "binary", answer.getBody().isError() ? answer.getBody().getError().getReason().cStr() : "ok");
  AppendFrame(builder, out);
}

}  // namespace authledger::server
