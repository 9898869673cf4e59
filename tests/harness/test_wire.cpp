#include <catch2/catch.hpp>

#include <algorithm>

#include "hil/harness/wire.h"

using namespace hil;
using harness::WireError;

TEST_CASE("frames round-trip and split anywhere in the byte stream", "[wire]") {
  wire::Envelope a, b;
  a.set_id(1);
  a.mutable_work_request()->set_board("rack-001");
  a.mutable_work_request()->set_credits(3);
  b.set_id(2);
  b.mutable_progress()->set_eval_id(99);
  std::string stream = harness::encode_frame(a) + harness::encode_frame(b);
  for (size_t split = 0; split <= stream.size(); ++split) {
    harness::FrameDecoder d;
    d.feed(stream.substr(0, split));
    std::vector<wire::Envelope> got;
    while (auto e = d.next()) got.push_back(*e);
    d.feed(stream.substr(split));
    while (auto e = d.next()) got.push_back(*e);
    REQUIRE(got.size() == 2);
    CHECK(got[0].work_request().credits() == 3);
    CHECK(got[1].progress().eval_id() == 99);
  }
}

TEST_CASE("reads straight into the decoder: prepare, commit, what a frame still lacks", "[wire]") {
  wire::Envelope a;
  a.set_id(7);
  a.mutable_work_request()->set_board("rack-007");
  std::string frame = harness::encode_frame(a);
  std::string stream = frame + frame + frame;
  harness::FrameDecoder d;
  CHECK(d.missing() == 4);  // nothing yet: a prefix
  // A read that fills less than the room it was given keeps only what came.
  char* room = d.prepare(16 * 1024);
  std::copy(stream.begin(), stream.begin() + 6, room);
  d.commit(6);
  CHECK(d.buffered() == 6);
  CHECK_FALSE(d.next());
  CHECK(d.missing() == frame.size() - 6);
  room = d.prepare(stream.size() - 6);
  std::copy(stream.begin() + 6, stream.end(), room);
  d.commit(stream.size() - 6);
  int whole = 0;
  while (auto e = d.next()) {
    CHECK(e->work_request().board() == "rack-007");
    ++whole;
  }
  CHECK(whole == 3);
  CHECK(d.buffered() == 0);
  CHECK(d.missing() == 4);
}

TEST_CASE("an oversized frame is refused before its body is read", "[wire]") {
  harness::FrameDecoder d(1024);
  d.feed(std::string("\x00\x10\x00\x00", 4));  // claims 1 MiB
  try {
    d.next();
    FAIL("must refuse");
  } catch (const WireError& e) {
    CHECK(e.code() == wire::TOO_LARGE);
    CHECK(std::string(e.what()).find("1048576") != std::string::npos);
  }
}

TEST_CASE("malformed bodies are refused as bad messages", "[wire]") {
  SECTION("garbage") {
    harness::FrameDecoder d;
    d.feed(std::string("\x00\x00\x00\x05\xff\xff\xff\xff\xff", 9));
    CHECK_THROWS_AS(d.next(), WireError);
  }
  SECTION("an envelope without a body") {
    wire::Envelope empty;
    empty.set_id(5);
    harness::FrameDecoder d;
    d.feed(harness::encode_frame(empty));
    CHECK_THROWS_WITH(d.next(), Catch::Contains("no body"));
  }
}

TEST_CASE("the proof binds the nonce, the role and the name", "[wire]") {
  auto p = harness::auth_proof("secret", "nonce", wire::AGENT, "rack-1");
  CHECK(p.size() == 32);
  CHECK(p != harness::auth_proof("secret", "nonce", wire::CLIENT, "rack-1"));
  CHECK(p != harness::auth_proof("secret", "nonce2", wire::AGENT, "rack-1"));
  CHECK(p != harness::auth_proof("other", "nonce", wire::AGENT, "rack-1"));
  CHECK(harness::random_nonce() != harness::random_nonce());
}
