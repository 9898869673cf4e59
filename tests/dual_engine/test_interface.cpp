// Model interfaces against real ONNX graphs: every mismatch is refused
// before any board is used, naming the input, output or head at fault; the
// decoders turn real output tensors into heads; the side file wins over the
// metadata and is embedded.
#include <catch2/catch.hpp>

#include <cmath>

#include "fixtures.h"
#include "hil/dual_engine/model.h"
#include "hil/dual_engine/preprocess.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/model_interface.h"
#include "hil/evals/sha256.h"
#include "onnx_builder.h"

#include <google/protobuf/text_format.h>

using namespace hil;
using dual_engine::Model;

namespace {

// Two cameras stacked on the channel axis into a conv; three heads out of
// one Gemm: a 6-value "head" vector and a 2x4 "lanes" tensor.
std::string two_camera_model() {
  test::OnnxBuilder b;
  b.input("cams", {1, 6, 8, 16});
  b.weights("w", {4, 6, 3, 3})
      .weights("g", {6, 4})
      .weights("gb", {6})
      .weights("l", {8, 4})
      .weights("lb", {8});
  auto* c = b.node("Conv", {"cams", "w"}, "conv");
  test::OnnxBuilder::ints(c, "pads", {1, 1, 1, 1});
  test::OnnxBuilder::ints(c, "kernel_shape", {3, 3});
  b.node("GlobalAveragePool", {"conv"}, "pool");
  b.node("Flatten", {"pool"}, "flat");
  auto* g = b.node("Gemm", {"flat", "g", "gb"}, "head");
  auto* t = g->add_attribute();
  t->set_name("transB");
  t->set_type(onnx::AttributeProto_AttributeType_INT);
  t->set_i(1);
  auto* l = b.node("Gemm", {"flat", "l", "lb"}, "lanes");
  auto* t2 = l->add_attribute();
  t2->set_name("transB");
  t2->set_type(onnx::AttributeProto_AttributeType_INT);
  t2->set_i(1);
  b.output("head", {1, 6}).output("lanes", {1, 8});
  return b.bytes();
}

constexpr const char* kGood = R"pb(
  inputs {
    input: "cams"
    cameras: [ "left", "right" ]
  }
  outputs {
    output: "head"
    head: "control"
    control { steering: 4 acceleration: 5 }
  }
  outputs {
    output: "head"
    head: "lead"
    lead { score: 0 distance: 1 }
  }
  outputs {
    output: "lanes"
    head: "lanes"
    lanes {
      lines: 2
      x: [ 10, 20, 40 ]
      has_score: true
    }
  }
)pb";

void check(const std::string& interface_text) {
  auto model = Model::load(two_camera_model(), "two.onnx");
  dual_engine::check_interface(model,
                               evals::parse_interface(interface_text, "two.interface.textproto"));
}

}  // namespace

TEST_CASE("an interface that fits the graph is accepted", "[interface]") {
  CHECK_NOTHROW(check(kGood));
}

TEST_CASE("every mismatch between interface and graph is refused, naming what is wrong",
          "[interface]") {
  SECTION("an input the graph does not have") {
    CHECK_THROWS_WITH(
        check(R"pb(inputs { input: "image" cameras: "front" }
                   outputs {
                     output: "head"
                     head: "h"
                     tensor { fields: "a" }
                   }
                   ignored_outputs: "lanes")pb"),
        Catch::Contains("binds input 'image', which the graph does not have (its inputs: cams)"));
  }
  SECTION("a camera stack that does not give the input's channels") {
    CHECK_THROWS_WITH(
        check(R"pb(inputs {
                     input: "cams"
                     cameras: [ "front" ]
                   }
                   outputs {
                     output: "head"
                     head: "h"
                     tensor { fields: "a" }
                   }
                   ignored_outputs: "lanes")pb"),
        Catch::Contains("input 'cams' has shape [1, 6, 8, 16], but 1 camera(s) x 1 frame(s)") &&
            Catch::Contains("give [1, 3, 8, 16]"));
  }
  SECTION("a graph output neither bound nor ignored") {
    CHECK_THROWS_WITH(
        check(R"pb(inputs {
                     input: "cams"
                     cameras: [ "l", "r" ]
                   }
                   outputs {
                     output: "head"
                     head: "h"
                     tensor { fields: "a" }
                   })pb"),
        Catch::Contains(
            "graph output 'lanes' is neither bound to a head nor listed in ignored_outputs"));
  }
  SECTION("a head reading past its output") {
    CHECK_THROWS_WITH(check(R"pb(inputs {
                                   input: "cams"
                                   cameras: [ "l", "r" ]
                                 }
                                 outputs {
                                   output: "head"
                                   head: "control"
                                   control { steering: 4 acceleration: 7 }
                                 }
                                 ignored_outputs: "lanes")pb"),
                      Catch::Contains("output 'head' has 6 values") &&
                          Catch::Contains("head 'control' (control) reads at least 8"));
  }
  SECTION("lanes whose shape is not lines x (stations + score)") {
    CHECK_THROWS_WITH(check(R"pb(inputs {
                                   input: "cams"
                                   cameras: [ "l", "r" ]
                                 }
                                 outputs {
                                   output: "lanes"
                                   head: "lanes"
                                   lanes {
                                     lines: 2
                                     x: [ 10, 20 ]
                                     has_score: true
                                   }
                                 }
                                 ignored_outputs: "head")pb"),
                      Catch::Contains("head 'lanes' (lanes) reads 6"));
  }
  SECTION("objects without the [1, F, H, W] grid") {
    CHECK_THROWS_WITH(check(R"pb(inputs {
                                   input: "cams"
                                   cameras: [ "l", "r" ]
                                 }
                                 outputs {
                                   output: "lanes"
                                   head: "o"
                                   objects {
                                     form: GRID
                                     camera: "l"
                                     classes: [ "car" ]
                                   }
                                 }
                                 ignored_outputs: "head")pb"),
                      Catch::Contains("output 'lanes' has shape [1, 8]; head 'o' (objects GRID) "
                                      "needs [1, F, H, W] with F = 6"));
  }
  SECTION("a head named twice, a decoder missing, an unknown class") {
    CHECK_THROWS_WITH(evals::parse_interface(R"pb(inputs { input: "x" cameras: "c" }
                                                  outputs {
                                                    output: "a"
                                                    head: "h"
                                                    tensor { fields: "f" }
                                                  }
                                                  outputs {
                                                    output: "b"
                                                    head: "h"
                                                    tensor { fields: "f" }
                                                  })pb",
                                             "dup.textproto"),
                      Catch::Contains("dup.textproto:7: head 'h': declared twice"));
    CHECK_THROWS_WITH(
        evals::parse_interface(R"pb(inputs { input: "x" cameras: "c" }
                                    outputs { output: "a" head: "h" })pb",
                               "none.textproto"),
        Catch::Contains("none.textproto:2: head 'h'") && Catch::Contains("has no decoder"));
    CHECK_THROWS_WITH(evals::parse_interface(R"pb(inputs { input: "x" cameras: "c" }
                                                  outputs {
                                                    output: "a"
                                                    head: "o"
                                                    objects { camera: "c" classes: "bus" }
                                                  })pb",
                                             "cls.textproto"),
                      Catch::Contains("unknown class 'bus'"));
  }
}

TEST_CASE("a revision without an interface is refused, and one beside it wins and is embedded",
          "[interface]") {
  test::TempDir dir;
  const auto onnx = dir / "two.onnx";
  evals::write_file_atomic(onnx, two_camera_model());
  CHECK_THROWS_WITH(
      dual_engine::prepare_revision(onnx),
      Catch::Contains("carries no model interface") && Catch::Contains("two.interface.textproto"));
  // The metadata's interface is used when there is no file beside it...
  const std::string embedded = dual_engine::embed_interface(two_camera_model(), kGood);
  evals::write_file_atomic(onnx, embedded);
  auto from_metadata = dual_engine::prepare_revision(onnx);
  CHECK(from_metadata.interface_source == "metadata");
  CHECK(from_metadata.bytes == embedded);
  // ...and the file beside it wins: another interface, embedded in what is uploaded.
  evals::write_file_atomic(dual_engine::interface_path_for(onnx), R"pb(
    inputs {
      input: "cams"
      cameras: [ "rear-left", "rear-right" ]
    }
    outputs {
      output: "head"
      head: "values"
      tensor { fields: [ "a", "b" ] }
    }
    ignored_outputs: "lanes")pb");
  auto from_file = dual_engine::prepare_revision(onnx);
  CHECK(from_file.interface_source == dual_engine::interface_path_for(onnx).string());
  CHECK(from_file.iface.inputs(0).cameras(0) == "rear-left");
  auto reread = evals::parse_interface(*evals::onnx_interface_text(from_file.bytes), "reread");
  CHECK(reread.inputs(0).cameras(1) == "rear-right");
  CHECK(evals::sha256_hex(from_file.bytes) != evals::sha256_hex(embedded));
}

TEST_CASE(
    "head decoders read real output tensors: control, lead, lanes with scores, a detection grid",
    "[interface]") {
  auto iface = evals::parse_interface(R"pb(
                                        inputs { input: "x" cameras: "front" }
                                        outputs {
                                          output: "v"
                                          head: "control"
                                          control { steering: 1 acceleration: 0 }
                                        }
                                        outputs {
                                          output: "v"
                                          head: "lead"
                                          lead { score: 2 distance: 3 score_is_logit: true }
                                        }
                                        outputs {
                                          output: "l"
                                          head: "lanes"
                                          lanes {
                                            lines: 2
                                            x: [ 10, 20 ]
                                            has_score: true
                                          }
                                        }
                                        outputs {
                                          output: "g"
                                          head: "objects"
                                          objects {
                                            form: GRID
                                            camera: "front"
                                            classes: [ "car", "pedestrian" ]
                                            class_scores: true
                                            score_threshold: 0.5
                                          }
                                        })pb",
                                      "decoders");
  clip::ClipHeader header;
  auto* cam = header.add_cameras();
  cam->set_name("front");
  cam->set_width(200);
  cam->set_height(100);
  evals::HeadDecoders heads(iface, header);
  // v: acceleration 1.5, steering -0.1, lead logit 0 (p = 0.5: present at the 0.5 threshold),
  // distance 30.
  const std::vector<float> v{1.5f, -0.1f, 0.0f, 30.0f};
  // l: line 0 y = (1.8, 1.9) with logit 2 (kept); line 1 with logit -2 (p = 0.12: dropped).
  const std::vector<float> l{1.8f, 1.9f, 2.0f, -1.8f, -1.9f, -2.0f};
  // g: a 1 x 2 grid, F = 1 + 2 + 4 = 7 planes of 2 cells. Cell 0: score 0.9, pedestrian
  // wins, centre offset (0.5, 0.5) of the cell, size 0.2 x 0.4 of the image. Cell 1: score 0.1.
  const std::vector<float> g{0.9f,        0.1f, /*car*/ 0.2f, 0.0f, /*ped*/ 0.7f, 0.0f,
                             /*dx*/ 0.5f, 0.0f,
                             /*dy*/ 0.5f, 0.0f, /*w*/ 0.2f,   0.0f, /*h*/ 0.4f,   0.0f};
  std::map<std::string, evals::OutputTensor> tensors{{"v", {{1, 4}, v.data(), v.size()}},
                                                     {"l", {{1, 6}, l.data(), l.size()}},
                                                     {"g", {{1, 7, 1, 2}, g.data(), g.size()}}};
  auto out = heads.decode(tensors);
  REQUIRE(out.heads_size() == 4);
  CHECK(out.heads(0).steering() == -0.1f);
  CHECK(out.heads(0).acceleration() == 1.5f);
  CHECK(out.heads(1).lead_score() == Approx(0.5));
  CHECK(out.heads(1).lead_present());
  CHECK(out.heads(1).lead_distance() == 30.0f);
  REQUIRE(out.heads(2).lanes_size() == 1);
  CHECK(out.heads(2).lanes(0).y(1) == 1.9f);
  CHECK(out.heads(2).lanes(0).score() == Approx(1 / (1 + std::exp(-2.0))));
  REQUIRE(out.heads(3).objects_size() == 1);
  const auto& d = out.heads(3).objects(0);
  CHECK(d.cls() == clip::CLASS_PEDESTRIAN);
  // Centre: column 0 + 0.5 of 2 columns -> 0.25 of 200 px = 50; row 0 + 0.5 of 1 -> 50 px.
  // Size: 0.2 x 200 = 40 px wide, 0.4 x 100 = 40 px high.
  CHECK(d.x0() == Approx(30));
  CHECK(d.x1() == Approx(70));
  CHECK(d.y0() == Approx(30));
  CHECK(d.y1() == Approx(70));
  // A missing output is named.
  tensors.erase("g");
  CHECK_THROWS_WITH(heads.decode(tensors),
                    Catch::Contains("output 'g' (head 'objects') is not among"));
}

TEST_CASE("preprocessing follows the interface: crop, colour order, layout, mean and std",
          "[interface]") {
  evals::Image img(4, 2, 3);
  for (uint32_t x = 0; x < 4; ++x) {
    for (uint32_t y = 0; y < 2; ++y) {
      uint8_t* p = img.at(x, y);
      p[0] = static_cast<uint8_t>(10 * x), p[1] = 100, p[2] = 200;  // R varies along x
    }
  }
  model::InputBinding b;
  REQUIRE(google::protobuf::TextFormat::ParseFromString(
      R"pb(input: "x"
           cameras: "c"
           preprocess {
             crop { x: 2 y: 0 width: 2 height: 2 }
             color: BGR
             layout: NHWC
             scale: 1
             mean: [ 0, 0, 10 ]
             std: [ 1, 2, 1 ]
           })pb",
      &b));
  auto out = dual_engine::preprocess_image(img, b, 2, 2);
  // The crop keeps columns 2 and 3 (R = 20, 30); BGR puts B first; NHWC interleaves:
  // pixel (0,0): B = 200/1, G = 100/2, R = (20 - 10)/1.
  REQUIRE(out.size() == 12);
  CHECK(out[0] == 200);
  CHECK(out[1] == 50);
  CHECK(out[2] == 10);
  CHECK(out[5] == 20);  // pixel (1,0): R = 30 - 10
  CHECK(dual_engine::binding_shape(b, 2, 2) == std::vector<int64_t>{1, 2, 2, 3});
}

TEST_CASE("a stack of cameras with frame history fills its input in order, oldest first",
          "[interface]") {
  evals::ClipSpec spec;
  spec.seed = 12;
  spec.frames = 3;
  spec.rig = "tri";
  evals::ClipReader clip(evals::generate_clip_bytes(spec), "stack.clip");
  auto iface = evals::parse_interface(R"pb(
                                        inputs {
                                          input: "x"
                                          cameras: [ "left", "right" ]
                                          history: 2
                                          stack: STACK_AXIS
                                          preprocess { scale: 1 }
                                        }
                                        outputs {
                                          output: "y"
                                          head: "v"
                                          tensor { fields: "a" }
                                        })pb",
                                      "stack");
  // [1, cameras x frames, C, H, W] at the network's size 32 x 16.
  std::vector<dual_engine::TensorInfo> graph{{"x", {1, 4, 3, 16, 32}, 1}};
  dual_engine::InputBuilder builder(iface, graph, clip);
  std::vector<clip::Frame> frames{clip.frame(0), clip.frame(1), clip.frame(2)};
  auto frame_at = [&](uint32_t k) -> const clip::Frame& { return frames[k]; };
  const size_t image = 3 * 16 * 32;
  auto slot = [&](const dual_engine::Tensor& t, size_t s) {
    return std::vector<float>(t.data.begin() + static_cast<ptrdiff_t>(s * image),
                              t.data.begin() + static_cast<ptrdiff_t>((s + 1) * image));
  };
  auto expected = [&](const std::string& cam, uint32_t k) {
    return dual_engine::preprocess_image(clip.image(frames[k], cam), iface.inputs(0), 32, 16);
  };
  auto t0 = builder.build(0, frame_at).at("x");
  CHECK(t0.shape == std::vector<int64_t>{1, 4, 3, 16, 32});
  // Frame 0: before the clip, frame 0 stands in: slots left@0, left@0, right@0, right@0.
  CHECK(slot(t0, 0) == expected("left", 0));
  CHECK(slot(t0, 1) == expected("left", 0));
  CHECK(slot(t0, 3) == expected("right", 0));
  auto t2 = builder.build(2, frame_at).at("x");
  // Frame 2: left@1, left@2, right@1, right@2.
  CHECK(slot(t2, 0) == expected("left", 1));
  CHECK(slot(t2, 1) == expected("left", 2));
  CHECK(slot(t2, 2) == expected("right", 1));
  CHECK(slot(t2, 3) == expected("right", 2));
  CHECK(slot(t2, 1) != slot(t2, 3));
}
