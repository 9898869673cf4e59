#include "hil/evals/model_interface.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "hil/evals/detection.h"
#include "text_format.h"

namespace hil::evals {

namespace {

using google::protobuf::TextFormat;

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

struct ClassName {
  const char* name;
  clip::ObjectClass cls;
};
constexpr ClassName kClasses[] = {
    {"unknown", clip::CLASS_UNKNOWN}, {"car", clip::CLASS_CAR},
    {"truck", clip::CLASS_TRUCK},     {"pedestrian", clip::CLASS_PEDESTRIAN},
    {"cyclist", clip::CLASS_CYCLIST}, {"cone", clip::CLASS_CONE}};

uint32_t box_fields(const model::ObjectsDecoder& d) {
  if (d.space() == model::ObjectsDecoder::IMAGE_2D) return 4;
  return d.form() == model::ObjectsDecoder::TOP_K ? 7 : 8;
}

uint32_t candidate_fields(const model::ObjectsDecoder& d) {
  return 1 + (d.class_scores() ? static_cast<uint32_t>(d.classes_size()) : 1) + box_fields(d);
}

}  // namespace

const char* head_kind_name(HeadKind kind) {
  switch (kind) {
    case HeadKind::kControl:
      return "control";
    case HeadKind::kLanes:
      return "lanes";
    case HeadKind::kObjects:
      return "objects";
    case HeadKind::kLead:
      return "lead";
    case HeadKind::kTensor:
      return "tensor";
  }
  return "unknown";
}

HeadKind head_kind(const model::OutputBinding& b) {
  switch (b.decoder_case()) {
    case model::OutputBinding::kControl:
      return HeadKind::kControl;
    case model::OutputBinding::kLanes:
      return HeadKind::kLanes;
    case model::OutputBinding::kObjects:
      return HeadKind::kObjects;
    case model::OutputBinding::kLead:
      return HeadKind::kLead;
    case model::OutputBinding::kTensor:
      return HeadKind::kTensor;
    default:
      break;
  }
  throw InterfaceError(fmt::format(
      "head '{}' (output '{}') has no decoder: set one of control, lanes, objects, lead, tensor",
      b.head(), b.output()));
}

std::optional<clip::ObjectClass> parse_object_class(const std::string& name) {
  for (const auto& c : kClasses) {
    if (name == c.name) return c.cls;
  }
  return std::nullopt;
}

const char* object_class_name(clip::ObjectClass cls) {
  for (const auto& c : kClasses) {
    if (c.cls == cls) return c.name;
  }
  return "unknown";
}

uint32_t input_channels(const model::InputBinding& input) {
  return input.preprocess().color() == model::GRAY ? 1 : 3;
}

model::ModelInterface parse_interface(const std::string& text, const std::string& name) {
  model::ModelInterface iface;
  TextFormat::ParseInfoTree tree;
  if (auto err = detail::parse_text(text, name, &iface, &tree); !err.empty())
    throw InterfaceError(err);
  auto fail = [&](int line, const std::string& where, const std::string& what) {
    throw InterfaceError(fmt::format("{}:{}: {}: {}", name, std::max(line, 1), where, what));
  };
  if (iface.inputs_size() == 0) fail(1, "inputs", "at least one input binding is required");
  std::set<std::string> inputs;
  for (int i = 0; i < iface.inputs_size(); ++i) {
    const auto& in = iface.inputs(i);
    const int line = detail::line_of(&tree, iface, "inputs", i);
    const std::string where = fmt::format("input '{}'", in.input());
    if (in.input().empty()) fail(line, "inputs.input", "required (the graph input's name)");
    if (!inputs.insert(in.input()).second) fail(line, where, "bound twice");
    if (in.cameras_size() == 0) fail(line, where, "names no camera");
    for (const auto& cam : in.cameras()) {
      if (cam.empty()) fail(line, where, "a camera name is empty");
    }
    if (in.history() > 16)
      fail(line, where, fmt::format("history {} is more than 16 frames", in.history()));
    const auto& p = in.preprocess();
    const auto channels = static_cast<int>(input_channels(in));
    if (!std::isfinite(p.scale()) || p.scale() < 0)
      fail(line, where, "preprocess.scale must be a finite number >= 0");
    if (p.mean_size() != 0 && p.mean_size() != channels) {
      fail(line, where,
           fmt::format("preprocess.mean has {} values for {} channels", p.mean_size(), channels));
    }
    if (p.std_size() != 0 && p.std_size() != channels) {
      fail(line, where,
           fmt::format("preprocess.std has {} values for {} channels", p.std_size(), channels));
    }
    for (float v : p.mean()) {
      if (!std::isfinite(v)) fail(line, where, "preprocess.mean must be finite");
    }
    for (float v : p.std()) {
      if (!std::isfinite(v) || v == 0) fail(line, where, "preprocess.std must be finite and not 0");
    }
    if (p.has_crop() && (p.crop().width() == 0 || p.crop().height() == 0)) {
      fail(line, where, "preprocess.crop needs a width and a height");
    }
  }
  if (iface.outputs_size() == 0) fail(1, "outputs", "at least one output binding is required");
  std::set<std::string> heads, bound;
  for (int i = 0; i < iface.outputs_size(); ++i) {
    const auto& b = iface.outputs(i);
    const int line = detail::line_of(&tree, iface, "outputs", i);
    const std::string where = fmt::format("head '{}'", b.head());
    if (b.output().empty()) fail(line, "outputs.output", "required (the graph output's name)");
    if (b.head().empty()) fail(line, fmt::format("output '{}'", b.output()), "needs a head name");
    if (!heads.insert(b.head()).second) fail(line, where, "declared twice");
    bound.insert(b.output());
    try {
      head_kind(b);
    } catch (const InterfaceError& e) {
      fail(line, where, e.what());
    }
    if (b.has_lead()) {
      const auto& d = b.lead();
      if (!(d.threshold() >= 0 && d.threshold() <= 1))
        fail(line, where, "lead.threshold must be in [0, 1]");
    } else if (b.has_lanes()) {
      const auto& d = b.lanes();
      if (d.lines() == 0) fail(line, where, "lanes.lines must be at least 1");
      if (d.form() == model::LanesDecoder::POLYLINE) {
        if (d.x_size() == 0) fail(line, where, "lanes: a POLYLINE head needs its stations (x)");
        for (int k = 1; k < d.x_size(); ++k) {
          if (!(d.x(k) > d.x(k - 1))) fail(line, where, "lanes.x must be ascending");
        }
      } else {
        if (d.degree() > 5) fail(line, where, "lanes.degree must be at most 5");
        if (d.x_max() < d.x_min()) fail(line, where, "lanes.x_max is below x_min");
      }
      if (!(d.score_threshold() >= 0 && d.score_threshold() <= 1))
        fail(line, where, "lanes.score_threshold must be in [0, 1]");
    } else if (b.has_objects()) {
      const auto& d = b.objects();
      if (d.classes_size() == 0)
        fail(line, where, "objects.classes: name the class of every index");
      for (const auto& c : d.classes()) {
        if (!parse_object_class(c)) {
          fail(line, where,
               fmt::format("unknown class '{}' (car, truck, pedestrian, cyclist, cone, unknown)",
                           c));
        }
      }
      if (d.space() == model::ObjectsDecoder::IMAGE_2D && d.camera().empty()) {
        fail(line, where, "objects: 2D boxes need the camera they are in");
      }
      if (d.space() == model::ObjectsDecoder::EGO_3D && d.form() == model::ObjectsDecoder::GRID) {
        if (d.x_range_size() != 2 || d.y_range_size() != 2 || !(d.x_range(1) > d.x_range(0)) ||
            !(d.y_range(1) > d.y_range(0))) {
          fail(line, where, "objects: a 3D grid needs x_range and y_range as [min, max]");
        }
      }
      if (!(d.score_threshold() >= 0 && d.score_threshold() <= 1))
        fail(line, where, "objects.score_threshold must be in [0, 1]");
      if (!(d.nms_iou() >= 0 && d.nms_iou() <= 1))
        fail(line, where, "objects.nms_iou must be in [0, 1]");
    } else if (b.has_tensor()) {
      if (b.tensor().fields_size() == 0) fail(line, where, "tensor: name at least one field");
    }
  }
  for (int i = 0; i < iface.ignored_outputs_size(); ++i) {
    const auto& o = iface.ignored_outputs(i);
    const int line = detail::line_of(&tree, iface, "ignored_outputs", i);
    if (o.empty()) fail(line, "ignored_outputs", "an empty name");
    if (bound.count(o))
      fail(line, fmt::format("output '{}'", o), "is both bound to a head and ignored");
  }
  return iface;
}

std::string interface_text(const model::ModelInterface& iface) {
  std::string out;
  TextFormat::PrintToString(iface, &out);
  return out;
}

std::optional<std::string> onnx_interface_text(const std::string& bytes) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  in.SetTotalBytesLimit(static_cast<int>(std::min<size_t>(bytes.size() + 1, INT32_MAX)));
  constexpr uint32_t kMetadataProps = 14;  // onnx.ModelProto.metadata_props
  for (uint32_t tag; (tag = in.ReadTag()) != 0;) {
    if (WireFormatLite::GetTagFieldNumber(tag) == kMetadataProps &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t length = 0;
      if (!in.ReadVarint32(&length)) return std::nullopt;
      auto limit = in.PushLimit(static_cast<int>(length));
      std::string key, value;
      for (uint32_t t; (t = in.ReadTag()) != 0;) {
        const auto field = WireFormatLite::GetTagFieldNumber(t);
        if ((field == 1 || field == 2) &&
            WireFormatLite::GetTagWireType(t) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
          if (!WireFormatLite::ReadString(&in, field == 1 ? &key : &value)) return std::nullopt;
        } else if (!WireFormatLite::SkipField(&in, t)) {
          return std::nullopt;
        }
      }
      in.PopLimit(limit);
      if (key == kInterfaceMetadataKey) return value;
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

const model::OutputBinding* find_head(const model::ModelInterface& iface, const std::string& head) {
  for (const auto& b : iface.outputs()) {
    if (b.head() == head) return &b;
  }
  return nullptr;
}

bool has_control_head(const model::ModelInterface& iface) {
  return std::any_of(iface.outputs().begin(), iface.outputs().end(),
                     [](const model::OutputBinding& b) { return b.has_control(); });
}

std::vector<std::string> interface_cameras(const model::ModelInterface& iface) {
  std::vector<std::string> out;
  for (const auto& in : iface.inputs()) {
    for (const auto& c : in.cameras()) {
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
  }
  return out;
}

uint64_t decoder_fields(const model::OutputBinding& b) {
  switch (head_kind(b)) {
    case HeadKind::kControl:
      return std::max(b.control().steering(), b.control().acceleration()) + uint64_t{1};
    case HeadKind::kLead:
      return std::max(b.lead().score(), b.lead().distance()) + uint64_t{1};
    case HeadKind::kTensor:
      return static_cast<uint64_t>(b.tensor().fields_size());
    case HeadKind::kLanes: {
      const auto& d = b.lanes();
      uint64_t per_line = d.form() == model::LanesDecoder::POLYLINE
                              ? static_cast<uint64_t>(d.x_size())
                              : d.degree() + 1u;
      return d.lines() * (per_line + (d.has_score() ? 1 : 0));
    }
    case HeadKind::kObjects:
      return candidate_fields(b.objects());
  }
  return 0;
}

// ---------------------------------------------------------------- decoding

HeadDecoders::HeadDecoders(const model::ModelInterface& iface, const clip::ClipHeader& header)
    : iface_(iface) {
  for (const auto& c : header.cameras()) camera_size_[c.name()] = {c.width(), c.height()};
  for (const auto& b : iface_.outputs()) {
    if (b.has_objects() && b.objects().space() == model::ObjectsDecoder::IMAGE_2D &&
        !camera_size_.count(b.objects().camera())) {
      throw InterfaceError(
          fmt::format("head '{}': its boxes are in camera '{}', which the clip does not have",
                      b.head(), b.objects().camera()));
    }
  }
}

outputs::FrameOutputs HeadDecoders::decode(
    const std::map<std::string, OutputTensor>& tensors) const {
  outputs::FrameOutputs out;
  out.set_has_outputs(true);
  for (const auto& b : iface_.outputs()) {
    auto it = tensors.find(b.output());
    if (it == tensors.end()) {
      throw InterfaceError(fmt::format("output '{}' (head '{}') is not among the network's outputs",
                                       b.output(), b.head()));
    }
    *out.add_heads() = decode_head(b, it->second);
  }
  return out;
}

outputs::HeadOutput HeadDecoders::decode_head(const model::OutputBinding& b,
                                              const OutputTensor& t) const {
  outputs::HeadOutput h;
  h.set_head(b.head());
  const uint64_t need = decoder_fields(b);
  if (t.size < need) {
    throw InterfaceError(fmt::format("output '{}' has {} values; head '{}' ({}) reads at least {}",
                                     b.output(), t.size, b.head(), head_kind_name(head_kind(b)),
                                     need));
  }
  const float* v = t.data;
  switch (head_kind(b)) {
    case HeadKind::kControl:
      h.set_steering(v[b.control().steering()]);
      h.set_acceleration(v[b.control().acceleration()]);
      break;
    case HeadKind::kLead: {
      const auto& d = b.lead();
      float score = v[d.score()];
      if (d.score_is_logit()) score = sigmoid(score);
      h.set_lead_score(score);
      h.set_lead_present(score >= (d.threshold() > 0 ? d.threshold() : 0.5f));
      h.set_lead_distance(v[d.distance()]);
      break;
    }
    case HeadKind::kTensor:
      for (int i = 0; i < b.tensor().fields_size(); ++i) h.add_values(v[i]);
      break;
    case HeadKind::kLanes: {
      const auto& d = b.lanes();
      const bool polyline = d.form() == model::LanesDecoder::POLYLINE;
      const uint32_t per_line =
          (polyline ? static_cast<uint32_t>(d.x_size()) : d.degree() + 1) + (d.has_score() ? 1 : 0);
      const float threshold = d.score_threshold() > 0 ? d.score_threshold() : 0.5f;
      for (uint32_t l = 0; l < d.lines(); ++l) {
        const float* line = v + size_t{l} * per_line;
        float score = d.has_score() ? sigmoid(line[per_line - 1]) : 1.0f;
        if (score < threshold) continue;
        auto* lane = h.add_lanes();
        lane->set_score(score);
        if (polyline) {
          for (int k = 0; k < d.x_size(); ++k) {
            lane->add_x(d.x(k));
            lane->add_y(line[k]);
          }
        } else {
          const float x_min = d.x_min() == 0 && d.x_max() == 0 ? 3.0f : d.x_min();
          const float x_max = d.x_min() == 0 && d.x_max() == 0 ? 60.0f : d.x_max();
          for (float x = x_min; x <= x_max + 1e-4f; x += 1.0f) {
            double y = 0, xp = 1;
            for (uint32_t k = 0; k <= d.degree(); ++k, xp *= x) y += line[k] * xp;
            lane->add_x(x);
            lane->add_y(static_cast<float>(y));
          }
        }
      }
      break;
    }
    case HeadKind::kObjects: {
      const auto& d = b.objects();
      const uint32_t fields = candidate_fields(d);
      const uint32_t class_fields = d.class_scores() ? static_cast<uint32_t>(d.classes_size()) : 1;
      const float threshold = d.score_threshold() > 0 ? d.score_threshold() : 0.05f;
      const bool grid = d.form() == model::ObjectsDecoder::GRID;
      const bool image = d.space() == model::ObjectsDecoder::IMAGE_2D;
      int64_t rows = 1, cols = 1;
      size_t candidates = t.size / fields;
      if (grid) {
        if (t.shape.size() != 4 || t.shape[1] != static_cast<int64_t>(fields)) {
          throw InterfaceError(
              fmt::format("output '{}' (head '{}', objects GRID) must be [1, {}, H, W]", b.output(),
                          b.head(), fields));
        }
        rows = t.shape[2];
        cols = t.shape[3];
        candidates = static_cast<size_t>(rows * cols);
        if (rows <= 0 || cols <= 0 || t.size < candidates * fields) {
          throw InterfaceError(fmt::format(
              "output '{}' (head '{}') holds {} values, its shape [1, {}, {}, {}] says {}",
              b.output(), b.head(), t.size, fields, rows, cols, candidates * fields));
        }
      }
      double cam_w = 1, cam_h = 1;
      if (image && d.coordinates() == model::ObjectsDecoder::NORMALIZED) {
        std::tie(cam_w, cam_h) = camera_size_.at(d.camera());
      }
      std::vector<outputs::Detection> dets;
      for (size_t c = 0; c < candidates; ++c) {
        // Field f of candidate c: rows of a TOP_K tensor, planes of a grid.
        auto field = [&](uint32_t f) {
          return grid ? v[size_t{f} * candidates + c] : v[c * fields + f];
        };
        float score = field(0);
        if (d.score_is_logit()) score = sigmoid(score);
        if (!(score >= threshold)) continue;
        int cls_index = 0;
        if (d.class_scores()) {
          float best = -INFINITY;
          for (uint32_t k = 0; k < class_fields; ++k) {
            if (field(1 + k) > best) best = field(1 + k), cls_index = static_cast<int>(k);
          }
        } else {
          cls_index = static_cast<int>(std::lround(field(1)));
        }
        if (cls_index < 0 || cls_index >= d.classes_size())
          continue;  // no such class: not a detection
        outputs::Detection det;
        det.set_score(score);
        det.set_cls(*parse_object_class(d.classes(cls_index)));
        const uint32_t o = 1 + class_fields;
        const double row = grid ? static_cast<double>(static_cast<int64_t>(c) / cols) : 0;
        const double col = grid ? static_cast<double>(static_cast<int64_t>(c) % cols) : 0;
        if (image) {
          det.set_camera(d.camera());
          double x0, y0, x1, y1;
          if (grid) {
            const double cx = (col + field(o)) / static_cast<double>(cols) * cam_w;
            const double cy = (row + field(o + 1)) / static_cast<double>(rows) * cam_h;
            const double w =
                field(o + 2) * (d.coordinates() == model::ObjectsDecoder::NORMALIZED ? cam_w : 1.0);
            const double hh =
                field(o + 3) * (d.coordinates() == model::ObjectsDecoder::NORMALIZED ? cam_h : 1.0);
            x0 = cx - w / 2, y0 = cy - hh / 2, x1 = cx + w / 2, y1 = cy + hh / 2;
          } else {
            x0 = field(o) * cam_w, y0 = field(o + 1) * cam_h, x1 = field(o + 2) * cam_w,
            y1 = field(o + 3) * cam_h;
          }
          det.set_x0(static_cast<float>(x0));
          det.set_y0(static_cast<float>(y0));
          det.set_x1(static_cast<float>(x1));
          det.set_y1(static_cast<float>(y1));
        } else {
          auto* cu = det.mutable_cuboid();
          if (grid) {
            const double cell_x = (d.x_range(1) - d.x_range(0)) / static_cast<double>(rows);
            const double cell_y = (d.y_range(1) - d.y_range(0)) / static_cast<double>(cols);
            cu->set_x(d.x_range(0) + (row + field(o)) * cell_x);
            cu->set_y(d.y_range(0) + (col + field(o + 1)) * cell_y);
            cu->set_z(field(o + 2));
            cu->set_length(field(o + 3));
            cu->set_width(field(o + 4));
            cu->set_height(field(o + 5));
            cu->set_yaw(std::atan2(field(o + 6), field(o + 7)));
          } else {
            cu->set_x(field(o));
            cu->set_y(field(o + 1));
            cu->set_z(field(o + 2));
            cu->set_length(field(o + 3));
            cu->set_width(field(o + 4));
            cu->set_height(field(o + 5));
            cu->set_yaw(field(o + 6));
          }
        }
        dets.push_back(std::move(det));
      }
      const size_t keep = d.max_detections() ? d.max_detections() : 100;
      for (auto& det : suppress(std::move(dets), d.nms_iou(), keep))
        *h.add_objects() = std::move(det);
      break;
    }
  }
  return h;
}

std::vector<outputs::Detection> suppress(std::vector<outputs::Detection> dets, double iou,
                                         size_t max_keep) {
  std::stable_sort(dets.begin(), dets.end(),
                   [](const outputs::Detection& a, const outputs::Detection& b) {
                     return a.score() > b.score();
                   });
  std::vector<outputs::Detection> kept;
  for (auto& d : dets) {
    if (kept.size() >= max_keep) break;
    bool suppressed = false;
    if (iou > 0) {
      for (const auto& k : kept) {
        if (k.cls() != d.cls() || k.camera() != d.camera()) continue;
        double overlap =
            d.has_cuboid() && k.has_cuboid()
                ? bev_iou(d.cuboid(), k.cuboid())
                : iou_2d({d.x0(), d.y0(), d.x1(), d.y1()}, {k.x0(), k.y0(), k.x1(), k.y1()});
        if (overlap > iou) {
          suppressed = true;
          break;
        }
      }
    }
    if (!suppressed) kept.push_back(std::move(d));
  }
  return kept;
}

}  // namespace hil::evals
