// Model interfaces (evals/proto/model.proto): parsing and structural checks,
// where an interface lives (beside the ONNX file or inside it), and the head
// decoders that turn a network's output tensors into what the clip's ground
// truth can be compared with (outputs.proto).
//
// Checks happen once, where an interface enters (`hil models check`, run
// submission, a board loading a revision); the decoders then trust it. The
// check against the graph itself (names, shapes, types) needs the ONNX
// library and lives in dual_engine (`check_interface`).
//
//   auto iface = parse_interface(text, "net.interface.textproto");
//   HeadDecoders heads(iface, clip.header());          // once per eval
//   outputs::FrameOutputs out = heads.decode(tensors);  // once per frame
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "evals/proto/clip.pb.h"
#include "evals/proto/model.pb.h"
#include "evals/proto/outputs.pb.h"

namespace hil::evals {

// A bad interface, or one that does not fit a graph or clip. what() names the
// file, the binding and the field (or the graph input, output or camera).
class InterfaceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The metadata_props key under which a revision carries its interface.
inline constexpr const char* kInterfaceMetadataKey = "hil.interface";

enum class HeadKind { kControl, kLanes, kObjects, kLead, kTensor };
const char* head_kind_name(HeadKind kind);
// The kind of a binding's decoder; throws InterfaceError when none is set.
HeadKind head_kind(const model::OutputBinding& binding);

// Parses text-format ModelInterface and checks what needs no graph: every
// input names a graph input and at least one camera, preprocessing values in
// range (scale, mean/std per channel), every output binding names an output,
// a head (unique) and a decoder with consistent fields (lanes: stations or
// degree; objects: classes known, ranges for 3D grids). `name` is used in
// errors ("FILE:LINE: ...").
model::ModelInterface parse_interface(const std::string& text, const std::string& name);
std::string interface_text(const model::ModelInterface& iface);

// The interface text stored in ONNX bytes (ModelProto.metadata_props), read
// with protobuf's wire format alone so that the scheduler needs no ONNX
// library; nullopt when the model carries none or the bytes are not a model.
std::optional<std::string> onnx_interface_text(const std::string& onnx_bytes);

const model::OutputBinding* find_head(const model::ModelInterface& iface, const std::string& head);
bool has_control_head(const model::ModelInterface& iface);
// Cameras the interface reads, each once, in binding order.
std::vector<std::string> interface_cameras(const model::ModelInterface& iface);
// Channels of one image after colour conversion (3, or 1 for GRAY).
uint32_t input_channels(const model::InputBinding& input);

// Elements (per candidate row or grid cell, for objects) a head's decoder
// reads; used to check output shapes against the graph.
uint64_t decoder_fields(const model::OutputBinding& binding);

// Class names of ObjectsDecoder.classes and import label files.
std::optional<clip::ObjectClass> parse_object_class(const std::string& name);
const char* object_class_name(clip::ObjectClass cls);

// A graph output as the decoders read it: float32, row-major.
struct OutputTensor {
  std::vector<int64_t> shape;
  const float* data = nullptr;
  size_t size = 0;
};

// Decodes every head of an interface, frame after frame. Built once per eval
// from the clip's header (cameras' sizes, for normalized 2D boxes).
class HeadDecoders {
 public:
  HeadDecoders(const model::ModelInterface& iface, const clip::ClipHeader& header);
  // Throws InterfaceError naming the output when a tensor is missing or does
  // not hold what the decoder reads.
  outputs::FrameOutputs decode(const std::map<std::string, OutputTensor>& tensors) const;

 private:
  outputs::HeadOutput decode_head(const model::OutputBinding& b, const OutputTensor& t) const;
  model::ModelInterface iface_;
  std::map<std::string, std::pair<double, double>> camera_size_;  // width, height
};

// Greedy non-maximum suppression within each class (2D IoU for image boxes,
// BEV IoU for 3D), highest score first; keeps at most `max_keep`.
std::vector<outputs::Detection> suppress(std::vector<outputs::Detection> detections, double iou,
                                         size_t max_keep);

}  // namespace hil::evals
