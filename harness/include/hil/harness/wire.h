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

// Incremental decoder over a byte stream (used by tests and fuzzing):
// feed bytes, take whole envelopes.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_frame_bytes = kDefaultMaxFrameBytes) : max_(max_frame_bytes) {}
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next whole envelope, or nullopt when more bytes are needed.
  std::optional<wire::Envelope> next();

 private:
  uint32_t max_;
  std::string buffer_;
};

// The proof a peer sends for a challenge.
std::string auth_proof(std::string_view secret, std::string_view nonce, wire::Role role,
                       std::string_view peer_name);
std::string random_nonce();

// Name of the envelope's body, for logs and errors.
const char* body_name(const wire::Envelope& envelope);

}  // namespace hil::harness
