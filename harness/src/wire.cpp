#include "hil/harness/wire.h"

#include <openssl/rand.h>

#include <algorithm>

#include <fmt/format.h>

#include "hil/evals/sha256.h"

namespace hil::harness {

std::string encode_frame(const wire::Envelope& envelope) {
  std::string body;
  envelope.SerializeToString(&body);
  auto n = static_cast<uint32_t>(body.size());
  std::string out;
  out.reserve(4 + body.size());
  out.push_back(static_cast<char>(n >> 24));
  out.push_back(static_cast<char>(n >> 16));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out += body;
  return out;
}

uint32_t decode_length(const char prefix[4], uint32_t max_frame_bytes) {
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(prefix[i]);
  if (n > max_frame_bytes) {
    throw WireError(wire::TOO_LARGE, fmt::format("frame of {} bytes exceeds the limit of {} bytes",
                                                 n, max_frame_bytes));
  }
  return n;
}

wire::Envelope decode_body(std::string_view body) {
  wire::Envelope e;
  if (!e.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    throw WireError(wire::BAD_MESSAGE,
                    fmt::format("frame of {} bytes does not parse as an Envelope", body.size()));
  }
  if (e.body_case() == wire::Envelope::BODY_NOT_SET) {
    throw WireError(wire::BAD_MESSAGE,
                    fmt::format("envelope {} has no body (unknown message type?)", e.id()));
  }
  return e;
}

void FrameDecoder::feed(std::string_view bytes) {
  std::copy(bytes.begin(), bytes.end(), prepare(bytes.size()));
  commit(bytes.size());
}

std::optional<wire::Envelope> FrameDecoder::next() {
  if (buffered() < 4) return std::nullopt;
  uint32_t n = decode_length(buffer_.data() + head_, max_);
  if (buffered() < 4 + size_t{n}) return std::nullopt;
  auto e = decode_body(std::string_view(buffer_).substr(head_ + 4, n));
  head_ += 4 + size_t{n};
  if (head_ == end_) {
    std::string().swap(buffer_);  // an idle connection holds no buffer
    head_ = end_ = 0;
  }
  return e;
}

size_t FrameDecoder::missing() const {
  if (buffered() < 4) return 4 - buffered();
  uint32_t n = decode_length(buffer_.data() + head_, max_);
  return 4 + size_t{n} - std::min(buffered(), 4 + size_t{n});
}

void FrameDecoder::compact() {
  if (head_ == 0) return;
  buffer_.erase(0, head_);
  end_ -= head_;
  head_ = 0;
}

char* FrameDecoder::prepare(size_t n) {
  compact();
  buffer_.resize(end_ + n);
  return buffer_.data() + end_;
}

void FrameDecoder::commit(size_t n) {
  end_ = std::min(end_ + n, buffer_.size());
  buffer_.resize(end_);
}

std::string auth_proof(std::string_view secret, std::string_view nonce, wire::Role role,
                       std::string_view peer_name) {
  std::string message(nonce);
  message += fmt::format("|{}|", static_cast<int>(role));
  message += peer_name;
  return evals::hmac_sha256(secret, message);
}

std::string random_nonce() {
  std::string nonce(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size())) !=
      1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  return nonce;
}

const char* body_name(const wire::Envelope& envelope) {
  const auto* field =
      wire::Envelope::descriptor()->FindFieldByNumber(static_cast<int>(envelope.body_case()));
  return field ? field->name().c_str() : "none";
}

}  // namespace hil::harness
