// Fuzz target: the wire protocol's framing (harness/src/wire.cpp).
//
// The input is one control byte, then a byte stream as a peer would send it
// (frames). Checked:
//  - decode_length refuses exactly the lengths above the limit (TOO_LARGE);
//  - decode_body either returns an envelope with a body or throws
//    WireError(BAD_MESSAGE); what it returns survives encode_frame and a
//    second decode unchanged;
//  - FrameDecoder yields the same envelopes, and stops with the same error,
//    whether the stream arrives at once or in pieces of any size.
// Any other exception escaping, or a sanitizer report, is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "hil/harness/wire.h"

using namespace hil;
using harness::WireError;

namespace {

struct Decoded {
  std::vector<std::string> envelopes;  // canonical serialisations, in order
  bool error = false;
  wire::ErrorCode code = wire::ERROR_NONE;
};

// Takes envelopes until more bytes are needed or the stream is refused (a
// real connection is closed at the first error).
bool drain(harness::FrameDecoder& d, Decoded& out) {
  try {
    while (auto e = d.next()) {
      HIL_FUZZ_CHECK(e->body_case() != wire::Envelope::BODY_NOT_SET,
                     "decoder returned an envelope without a body");
      HIL_FUZZ_CHECK(harness::body_name(*e) != nullptr, "no body name");
      out.envelopes.push_back(e->SerializeAsString());
    }
    return true;
  } catch (const WireError& e) {
    HIL_FUZZ_CHECK(e.code() == wire::TOO_LARGE || e.code() == wire::BAD_MESSAGE,
                   "unexpected code %d", e.code());
    out.error = true;
    out.code = e.code();
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte picks the FrameDecoder's limit and piece size below; the
  // rest is the stream: frames as a peer sends them.
  if (size == 0) return 0;
  const uint8_t control = data[0];
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);

  // decode_length on the first frame's prefix.
  if (stream.size() >= 4) {
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(stream[i]);
    for (uint32_t limit : {0u, 4096u, harness::kDefaultMaxFrameBytes, 0xffffffffu}) {
      try {
        uint32_t got = harness::decode_length(stream.data(), limit);
        HIL_FUZZ_CHECK(got == n && got <= limit, "decode_length returned %u for %u (limit %u)", got,
                       n, limit);
      } catch (const WireError& e) {
        HIL_FUZZ_CHECK(e.code() == wire::TOO_LARGE && n > limit,
                       "decode_length refused %u (limit %u)", n, limit);
      }
    }
  }

  // decode_body on what follows the first prefix, then a round trip
  // through encode_frame.
  try {
    auto e = harness::decode_body(stream.size() >= 4 ? stream.substr(4) : stream);
    HIL_FUZZ_CHECK(e.body_case() != wire::Envelope::BODY_NOT_SET,
                   "decode_body returned an envelope without a body");
    std::string frame = harness::encode_frame(e);
    HIL_FUZZ_CHECK(frame.size() >= 4, "short frame");
    uint32_t n = harness::decode_length(frame.data(), 0xffffffffu);
    HIL_FUZZ_CHECK(n == frame.size() - 4, "frame length %u for a body of %zu bytes", n,
                   frame.size() - 4);
    auto again = harness::decode_body(std::string_view(frame).substr(4));
    HIL_FUZZ_CHECK(again.SerializeAsString() == e.SerializeAsString(),
                   "round trip changed the envelope");
    HIL_FUZZ_CHECK(std::string_view(harness::body_name(again)) == harness::body_name(e),
                   "body name changed");
  } catch (const WireError& e) {
    HIL_FUZZ_CHECK(e.code() == wire::BAD_MESSAGE, "decode_body threw code %d", e.code());
  }

  // FrameDecoder: the whole stream at once versus in pieces of 1..16 bytes.
  const uint32_t limit = control & 0x80 ? 64u : harness::kDefaultMaxFrameBytes;
  Decoded whole;
  {
    harness::FrameDecoder d(limit);
    d.feed(stream);
    drain(d, whole);
  }
  Decoded pieces;
  {
    harness::FrameDecoder d(limit);
    size_t step = 1 + (control & 0x0f);
    for (size_t at = 0; at < stream.size(); at += step) {
      d.feed(stream.substr(at, step));
      if (!drain(d, pieces)) break;
    }
  }
  HIL_FUZZ_CHECK(whole.envelopes == pieces.envelopes, "%zu envelopes at once, %zu in pieces",
                 whole.envelopes.size(), pieces.envelopes.size());
  HIL_FUZZ_CHECK(whole.error == pieces.error && whole.code == pieces.code,
                 "error %d/%d at once, %d/%d in pieces", whole.error, whole.code, pieces.error,
                 pieces.code);
  return 0;
}
