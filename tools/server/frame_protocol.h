// The binary protocol of one connection, without sockets: the bytes a client sent in,
// the answer frames out. A frame is a 4-byte little-endian length and that many bytes
// of one unpacked Cap'n Proto message (wire::Request in, wire::Response out).
//
// Frames are answered in the order they arrive. A frame that is not whole 8-byte words
// or not a Request gets a `malformed_frame` answer (id 0) and the connection goes on,
// its framing being intact; a length above the limit gets `frame_too_large` and the
// connection must close (the rest of the stream cannot be trusted). The connection's
// API key is the one its last `authenticate` named.
//
// Thread-safety: one object per connection, used by one thread at a time.
#pragma once

#include <capnp/message.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/server/service.h"

namespace authledger::server {

class FrameProtocol {
 public:
  FrameProtocol(Service& service, std::string peer_ip, std::size_t max_frame_bytes);

  // Appends bytes received from the client.
  void Receive(const unsigned char* data, std::size_t size);

  enum class Step {
    kNeedMore,  // no complete frame buffered
    kAnswered,  // one frame answered into `out`
    kBlocking,  // the next frame's request waits for the disk: call AnswerBlocking
    kClose,     // an error answer is in `out`; close after writing it
  };
  // Takes on the next buffered frame, appending its answer to `out` unless kBlocking.
  Step Next(std::string& out);
  // Answers the frame Next left pending (kBlocking), on any thread.
  void AnswerBlocking(std::string& out);

  // No partial frame is buffered (the client is between requests).
  bool idle() const { return buffer_.size() == consumed_; }
  std::uint64_t frames() const { return frames_; }

 private:
  void Answer(wire::Request::Reader request, std::string& out);

  Service& service_;
  const std::string peer_ip_;
  const std::size_t max_frame_bytes_;
  capnp::ReaderOptions limits_;
  const ApiKey* key_ = nullptr;
  std::vector<unsigned char> buffer_;
  std::size_t consumed_ = 0;
  std::uint64_t frames_ = 0;
  kj::Array<capnp::word> pending_;  // the frame behind kBlocking
};

// Appends `message` to `out` as one frame.
void AppendFrame(capnp::MessageBuilder& message, std::string& out);
// Appends an error answer with `id` as one frame.
void AppendErrorFrame(std::string& out, std::uint64_t id, std::string_view reason,
                      std::string_view message);

}  // namespace authledger::server
