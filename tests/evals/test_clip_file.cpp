#include <catch2/catch.hpp>

#include <fstream>

#include "fixtures.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/sha256.h"

using namespace hil;

namespace {
std::string small_clip(uint32_t frames = 6, uint64_t seed = 5) {
  evals::ClipSpec spec;
  spec.seed = seed;
  spec.frames = frames;
  spec.condition = "rain";
  return evals::generate_clip_bytes(spec);
}
}  // namespace

TEST_CASE("a clip round-trips through the file format frame by frame", "[clip]") {
  test::TempDir dir;
  auto bytes = small_clip();
  evals::ClipReader mem(bytes, "memory");
  REQUIRE(mem.frame_count() == 6);
  REQUIRE_FALSE(mem.damage());

  // Rewrite it with ClipWriter: the same bytes come out.
  auto path = dir / "copy.clip";
  {
    evals::ClipWriter w(path, mem.header());
    for (uint32_t k = 0; k < mem.frame_count(); ++k) w.write_frame(mem.frame(k));
    w.finish();
  }
  REQUIRE(evals::read_file(path) == bytes);
  evals::ClipReader file(path);
  REQUIRE(file.header().name() == mem.header().name());
  for (uint32_t k = 0; k < 6; ++k) {
    auto f = file.frame(k);
    CHECK(f.index() == k);
    CHECK(f.images(0).pixels() == mem.frame(k).images(0).pixels());
  }
}

TEST_CASE("the CRC catches a flipped byte and names the frame and offset", "[clip]") {
  auto bytes = small_clip();
  evals::ClipReader clean(bytes, "clean");
  // Flip a byte in the middle of frame 3's record (its pixels).
  std::string corrupt = bytes;
  evals::ClipReader probe(bytes, "probe");
  auto f3 = probe.frame(3);
  auto pos = corrupt.find(f3.images(0).pixels().substr(100, 64));
  REQUIRE(pos != std::string::npos);
  corrupt[pos + 10] ^= 0x40;
  evals::ClipReader reader(corrupt, "corrupt.clip");
  CHECK_NOTHROW(reader.frame(2));
  try {
    reader.frame(3);
    FAIL("a flipped byte must not read back");
  } catch (const evals::ClipError& e) {
    CHECK(e.frame() == 3);
    CHECK(std::string(e.what()).find("corrupt.clip") != std::string::npos);
    CHECK(std::string(e.what()).find("CRC32") != std::string::npos);
    CHECK(e.offset() > 8);
  }
}

TEST_CASE("a truncated clip is reported at the right frame and earlier frames stay readable",
          "[clip]") {
  auto bytes = small_clip(8);
  evals::ClipReader full(bytes, "full");
  // Cut the file in the middle of frame 5.
  auto f5 = full.frame(5).images(0).pixels();
  auto pos = bytes.find(f5.substr(0, 64));
  REQUIRE(pos != std::string::npos);
  evals::ClipReader cut(bytes.substr(0, pos + 100), "cut.clip");
  REQUIRE(cut.damage());
  CHECK(cut.damage()->find("frame 5") != std::string::npos);
  CHECK(cut.damage()->find("truncated") != std::string::npos);
  CHECK(cut.frame_count() == 5);
  for (uint32_t k = 0; k < 5; ++k) CHECK(cut.frame(k).index() == k);
  CHECK_THROWS_AS(cut.frame(5), evals::ClipError);
}

TEST_CASE("garbage and empty files are refused with the file named", "[clip]") {
  CHECK_THROWS_WITH(evals::ClipReader(std::string("not a clip at all"), "junk.clip"),
                    Catch::Contains("junk.clip") && Catch::Contains("bad magic"));
  CHECK_THROWS_AS(evals::ClipReader(std::string(), "empty.clip"), evals::ClipError);
  std::string header_only = small_clip().substr(0, 12);
  CHECK_THROWS_WITH(evals::ClipReader(header_only, "short.clip"), Catch::Contains("header"));
}

TEST_CASE(
    "a frame whose image does not match the header's camera size is refused, naming the frame",
    "[clip]") {
  evals::ClipReader good(small_clip(3), "good.clip");
  std::vector<hil::clip::Frame> frames{good.frame(0), good.frame(1), good.frame(2)};
  frames[2].mutable_images(0)->mutable_pixels()->resize(frames[2].images(0).pixels().size() - 7);
  evals::ClipReader bad(evals::encode_clip(good.header(), frames), "short-image.clip");
  CHECK(bad.frame(1).index() == 1);  // frames before it stay readable
  CHECK_THROWS_WITH(bad.frame(2), Catch::Contains("short-image.clip") &&
                                      Catch::Contains("frame 2") &&
                                      Catch::Contains("bytes, expected"));
}

TEST_CASE(
    "a format 1 clip (one raw camera, no truth list) reads as it is, with the truth it always had",
    "[clip]") {
  // As format 1 wrote it: raw RGB8 frames, no encoding field, no truth list.
  evals::ClipReader v2(small_clip(3), "v2");
  auto header = v2.header();
  header.set_format_version(1);
  header.clear_truth();
  header.mutable_cameras(0)->clear_encoding();
  std::vector<clip::Frame> frames;
  for (uint32_t k = 0; k < 3; ++k) frames.push_back(v2.frame(k));
  evals::ClipReader v1(evals::encode_clip(header, frames), "v1.clip");
  CHECK(evals::clip_truth(v1.header()) ==
        std::vector<std::string>{"ego", "control", "odometry", "lanes", "objects.3d"});
  CHECK_FALSE(evals::has_truth(v1.header(), "objects.2d"));
  const auto img = v1.image(v1.frame(1), "front");
  CHECK(img.width == 128);
  CHECK(img.pixels == v2.image(v2.frame(1), "front").pixels);
}

TEST_CASE("a clip of a newer format is refused with its number", "[clip]") {
  evals::ClipReader v2(small_clip(1), "v2");
  auto header = v2.header();
  header.set_format_version(3);
  CHECK_THROWS_WITH(evals::ClipReader(evals::encode_clip(header, {v2.frame(0)}), "future.clip"),
                    Catch::Contains("future.clip") &&
                        Catch::Contains("format version 3 is newer than this hil reads (2)"));
}

TEST_CASE("JPEG and PNG frames decode to the camera's size; a corrupt one is named", "[clip]") {
  evals::ClipSpec spec;
  spec.seed = 8;
  spec.frames = 2;
  spec.rig = "tri";
  for (auto encoding : {clip::ENCODING_JPEG, clip::ENCODING_PNG}) {
    spec.encoding = encoding;
    evals::ClipReader r(evals::generate_clip_bytes(spec), "enc.clip");
    REQUIRE(r.header().cameras_size() == 3);
    auto f = r.frame(1);
    for (const auto& cam : r.header().cameras()) {
      const auto img = r.image(f, cam.name());
      CHECK(img.width == 128);
      CHECK(img.height == 64);
    }
    // Damage the left camera's bytes in the frame record (the CRC is redone by
    // re-encoding, so only the codec can notice).
    std::vector<clip::Frame> frames{r.frame(0), r.frame(1)};
    frames[1].mutable_images(1)->set_pixels("not an image");
    evals::ClipReader bad(evals::encode_clip(r.header(), frames), "bad-image.clip");
    CHECK_THROWS_WITH(bad.image(bad.frame(1), "left"), Catch::Contains("bad-image.clip") &&
                                                           Catch::Contains("frame 1") &&
                                                           Catch::Contains("camera 'left'"));
  }
}
