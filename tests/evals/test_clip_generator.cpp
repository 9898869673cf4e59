#include <catch2/catch.hpp>

#include <cmath>

#include "fixtures.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/sha256.h"

using namespace hil;

TEST_CASE("the generator is deterministic: the same spec gives the same bytes", "[generator]") {
  evals::ClipSpec spec;
  spec.seed = 42;
  spec.frames = 5;
  spec.condition = "snow";
  auto a = evals::generate_clip_bytes(spec);
  auto b = evals::generate_clip_bytes(spec);
  CHECK(evals::sha256_hex(a) == evals::sha256_hex(b));
  spec.seed = 43;
  CHECK(evals::sha256_hex(evals::generate_clip_bytes(spec)) != evals::sha256_hex(a));
}

TEST_CASE("conditions change the rendered image, not just a tag", "[generator]") {
  auto mean_brightness = [](const std::string& condition) {
    evals::ClipSpec spec;
    spec.seed = 7;
    spec.frames = 1;
    spec.condition = condition;
    evals::ClipReader r(evals::generate_clip_bytes(spec), condition);
    auto frame = r.frame(0);
    const auto& px = frame.images(0).pixels();
    double sum = 0;
    for (unsigned char c : px) sum += c;
    return sum / static_cast<double>(px.size());
  };
  double clear = mean_brightness("clear"), night = mean_brightness("night"),
         snow = mean_brightness("snow");
  CHECK(night < clear * 0.6);
  CHECK(snow > clear);
}

TEST_CASE("labels agree with the image", "[generator]") {
  SECTION("a visible car's projected cuboid covers pixels that differ from the empty road") {
    evals::ClipSpec spec;
    spec.seed = 11;
    spec.frames = 1;
    spec.traffic = "lead-brake";
    spec.road = "straight";
    spec.condition = "clear";
    evals::ClipReader r(evals::generate_clip_bytes(spec), "lead");
    auto f = r.frame(0);
    const auto& cam = r.header().cameras(0);
    const hil::clip::Object* lead = nullptr;
    for (const auto& o : f.labels().objects()) {
      if (o.visibility() == hil::clip::VISIBLE && std::abs(o.cuboid().y()) < 1.5) lead = &o;
    }
    REQUIRE(lead != nullptr);
    // The pixel at the projected centre of the car's rear face...
    double u, v;
    const auto& c = lead->cuboid();
    REQUIRE(evals::project_point(cam, c.x() - c.length() / 2, c.y(), c.z(), &u, &v));
    auto img = evals::frame_image(r.header(), f);
    auto px = img.at(static_cast<uint32_t>(u), static_cast<uint32_t>(v));
    // ...against the same pixel with the traffic removed.
    spec.traffic = "free";
    evals::ClipReader empty(evals::generate_clip_bytes(spec), "empty");
    auto img2 = evals::frame_image(empty.header(), empty.frame(0));
    auto px2 = img2.at(static_cast<uint32_t>(u), static_cast<uint32_t>(v));
    int diff = std::abs(px[0] - px2[0]) + std::abs(px[1] - px2[1]) + std::abs(px[2] - px2[2]);
    CHECK(diff > 30);
    CHECK(f.labels().ego().lead_present());
  }
  SECTION("a pedestrian behind a parked truck is labelled occluded, then visible") {
    evals::ClipSpec spec;
    spec.seed = 3;
    spec.frames = 108;
    spec.traffic = "pedestrian";
    spec.road = "straight";
    evals::ClipReader r(evals::generate_clip_bytes(spec), "ped");
    bool occluded = false, visible_later = false;
    for (uint32_t k = 0; k < r.frame_count(); ++k) {
      auto frame = r.frame(k);
      for (const auto& o : frame.labels().objects()) {
        if (o.cls() != hil::clip::CLASS_PEDESTRIAN) continue;
        if (o.visibility() == hil::clip::FULLY_OCCLUDED ||
            o.visibility() == hil::clip::PARTLY_OCCLUDED)
          occluded = true;
        if (occluded && o.visibility() == hil::clip::VISIBLE) visible_later = true;
        // Occluded tracks keep correct kinematics: crossing at walking speed.
        if (k > 0) CHECK(std::abs(o.vy()) < 3.0);
      }
    }
    CHECK(occluded);
    CHECK(visible_later);
  }
}

TEST_CASE("an unknown condition is refused by name", "[generator]") {
  evals::ClipSpec spec;
  spec.condition = "hail";
  CHECK_THROWS_WITH(evals::generate_clip_bytes(spec), Catch::Contains("hail"));
}

TEST_CASE(
    "a generated clip is found again by its spec, and rendered again only when its file is gone",
    "[generator]") {
  test::TempDir dir;
  evals::ClipSpec spec;
  spec.seed = 17;
  spec.frames = 3;
  const auto sha = evals::generate_clip_file(spec, dir.path());
  const auto clip = dir / (sha + ".clip");
  REQUIRE(std::filesystem::exists(clip));
  size_t indexed = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir / "by-spec")) {
    CHECK(evals::read_file(f.path()) == sha);
    ++indexed;
  }
  CHECK(indexed == 1);
  // Found by its spec: the file is not written again.
  const auto written = std::filesystem::last_write_time(clip);
  CHECK(evals::generate_clip_file(spec, dir.path()) == sha);
  CHECK(std::filesystem::last_write_time(clip) == written);
  // Another spec is another clip; a removed file is rendered again, identical.
  spec.frames = 4;
  CHECK(evals::generate_clip_file(spec, dir.path()) != sha);
  spec.frames = 3;
  std::filesystem::remove(clip);
  CHECK(evals::generate_clip_file(spec, dir.path()) == sha);
  CHECK(evals::sha256_file(clip) == sha);
}
