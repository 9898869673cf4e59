// Framing and authentication of the wire protocol (harness/proto/wire.proto).
//
//   frame = u32 big-endian length N, then N bytes of a serialised Envelope
//
// N above the connection's maximum frame size is refused before any byte of
// the body is read, so a peer cannot make hil allocate what it claims.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "harness/proto/wire.pb.h"

namespace hil::harness {

// 2: leases carry the suite's declared metrics, results the decoded outputs.
// A version 1 agent would score with the old fixed metrics: refused.
inline constexpr uint32_t kProtocolVersion = 2;
inline constexpr uint32_t kMinProtocolVersion = 2;  // oldest agent this scheduler serves
inline constexpr uint32_t kDefaultMaxFrameBytes = 16u << 20;
inline constexpr uint32_t kBlobChunkBytes = 1u << 20;
inline constexpr const char* kSoftwareVersion = "hil 0.1.0";

class WireError : public std::runtime_error {
 public:
  WireError(wire::ErrorCode code, const std::string& what)
      : std::runtime_error(what), code_(code) {}
  wire::ErrorCode code() const { return code_; }

 private:
  wire::ErrorCode code_;
};

// Serialises an envelope into a frame (length prefix + body).
std::string encode_frame(const wire::Envelope& envelope);

// Parses a 4-byte length prefix; throws WireError(TOO_LARGE) above the limit.
uint32_t decode_length(const char prefix[4], uint32_t max_frame_bytes);

// Parses a frame body; throws WireError(BAD_MESSAGE) naming what is wrong.
wire::Envelope decode_body(std::string_view body);

// Incremental decoder over a byte stream: feed bytes (or read them straight
// into prepare()'s room and commit() them), take whole envelopes. A
// connection decodes every whole frame of one read before it reads again,
// so a batch of messages costs one read and one wake-up, not two each. Once
// every byte has been taken, the buffer is released: an idle connection
// holds none.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_frame_bytes = kDefaultMaxFrameBytes) : max_(max_frame_bytes) {}
  void feed(std::string_view bytes);
  // The next whole envelope, or nullopt when more bytes are needed. Throws
  // WireError for a frame over the limit or one that does not parse.
  std::optional<wire::Envelope> next();
  // Room for `n` more bytes; commit(k) keeps the first k written there.
  char* prepare(size_t n);
  void commit(size_t n);
  // Bytes held that are not yet taken as envelopes.
  size_t buffered() const { return end_ - head_; }
  // Bytes the frame being received still lacks (its prefix counts as 4).
  size_t missing() const;

 private:
  void compact();
  uint32_t max_;
  std::string buffer_;  // [head_, end_) is received and not yet taken
  size_t head_ = 0, end_ = 0;
};

// The proof a peer sends for a challenge.
std::string auth_proof(std::string_view secret, std::string_view nonce, wire::Role role,
                       std::string_view peer_name);
std::string random_nonce();

// Name of the envelope's body, for logs and errors.
const char* body_name(const wire::Envelope& envelope);

}  // namespace hil::harness
