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
// FrameDecoder splits the stream into frames (bytes in, frames out, nothing answered);
// FrameProtocol answers them through a Service. How the bytes are cut into reads never
// changes the frames.
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

class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_frame_bytes);

  // Appends bytes received from the client.
  void Receive(const unsigned char* data, std::size_t size);

  struct Frame {
    enum class Kind {
      kNeedMore,   // no complete frame buffered
      kMessage,    // a frame of whole 8-byte words, in `words`
      kMalformed,  // a frame that is empty or not whole words; skipped
      kTooLarge,   // a length above the limit: the stream ends here (every later
                   // Next returns kTooLarge again)
    };
    Kind kind = Kind::kNeedMore;
    std::uint32_t length = 0;      // the length its header gives (unless kNeedMore)
    kj::Array<capnp::word> words;  // kMessage: the frame, copied to aligned words
  };
  // Takes the next buffered frame.
  Frame Next();

  // Limits for reading a kMessage frame: a message may not make the reader walk more
  // than a few times the frame limit, nor nest deeper than the wire schema needs.
  const capnp::ReaderOptions& reader_options() const { return reader_options_; }
  std::size_t max_frame_bytes() const { return max_frame_bytes_; }

  // No partial frame is buffered (the client is between requests).
  bool idle() const { return buffer_.size() == consumed_; }
  // Frames taken so far (kMessage and kMalformed).
  std::uint64_t frames() const { return frames_; }

 private:
  const std::size_t max_frame_bytes_;
  capnp::ReaderOptions reader_options_;
  std::vector<unsigned char> buffer_;
  std::size_t consumed_ = 0;
  std::uint64_t frames_ = 0;
};

class FrameProtocol {
 public:
  FrameProtocol(Service& service, std::string peer_ip, std::size_t max_frame_bytes);

  // Appends bytes received from the client.
  void Receive(const unsigned char* data, std::size_t size) { decoder_.Receive(data, size); }

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
  bool idle() const { return decoder_.idle(); }
  std::uint64_t frames() const { return decoder_.frames(); }

 private:
  void Answer(wire::Request::Reader request, std::string& out);

  Service& service_;
  const std::string peer_ip_;
  FrameDecoder decoder_;
  const ApiKey* key_ = nullptr;
  kj::Array<capnp::word> pending_;  // the frame behind kBlocking
};

// Appends `message` to `out` as one frame.
void AppendFrame(capnp::MessageBuilder& message, std::string& out);
// Appends an error answer with `id` as one frame.
void AppendErrorFrame(std::string& out, std::uint64_t id, std::string_view reason,
                      std::string_view message);

}  // namespace authledger::server
