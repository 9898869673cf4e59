// Fuzz target: model interfaces (evals/src/model_interface.cpp). The input is
// interface text, then (after a line "---") bytes that become output tensors:
// parse_interface must refuse bad text with InterfaceError only; an accepted
// interface's decoders must take any tensor values (NaN, inf, huge) and any
// sizes, refusing short outputs with InterfaceError, never reading past them;
// and the ONNX metadata reader must take any bytes. The fuzz preset's ASan
// catches a read past a tensor.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/model_interface.h"

using namespace hil;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string all(reinterpret_cast<const char*>(data), size);
  (void)evals::onnx_interface_text(all);  // any bytes: a result or nullopt, never a crash
  const auto split = all.find("\n---\n");
  const std::string text = all.substr(0, split);
  const std::string tail = split == std::string::npos ? std::string() : all.substr(split + 5);
  model::ModelInterface iface;
  try {
    iface = evals::parse_interface(text, "fuzz.interface.textproto");
  } catch (const evals::InterfaceError&) {
    return 0;
  }
  HIL_FUZZ_CHECK(iface.inputs_size() > 0 && iface.outputs_size() > 0,
                 "an interface without bindings was accepted");
  clip::ClipHeader header;
  for (const auto& cam : evals::interface_cameras(iface)) {
    auto* c = header.add_cameras();
    c->set_name(cam);
    c->set_width(64);
    c->set_height(32);
  }
  for (const auto& o : iface.outputs()) {
    if (o.has_objects() && !evals::find_camera(header, o.objects().camera())) {
      auto* c = header.add_cameras();
      c->set_name(o.objects().camera());
      c->set_width(64);
      c->set_height(32);
    }
  }
  try {
    evals::HeadDecoders heads(iface, header);
    // The tail's bytes as floats, shared by every output; the first byte sets
    // how many values each output holds, the next two a grid's height and width.
    std::vector<float> values(tail.size() / 4);
    if (!values.empty()) std::memcpy(values.data(), tail.data(), values.size() * 4);
    const size_t n =
        tail.empty() ? 0 : std::min<size_t>(values.size(), static_cast<unsigned char>(tail[0]));
    const int64_t h = tail.size() > 1 ? 1 + static_cast<unsigned char>(tail[1]) % 8 : 1;
    const int64_t w = tail.size() > 2 ? 1 + static_cast<unsigned char>(tail[2]) % 8 : 1;
    std::map<std::string, evals::OutputTensor> tensors;
    for (const auto& o : iface.outputs()) {
      evals::OutputTensor t;
      t.data = values.data();
      t.size = n;
      if (o.has_objects() && o.objects().form() == model::ObjectsDecoder::GRID) {
        const auto f = static_cast<int64_t>(evals::decoder_fields(o));
        t.size = std::min<size_t>(n, static_cast<size_t>(f * h * w));
        t.shape = {1, f, h, w};
        if (t.size < static_cast<size_t>(f * h * w)) t.shape = {1, static_cast<int64_t>(t.size)};
      } else {
        t.shape = {1, static_cast<int64_t>(n)};
      }
      tensors[o.output()] = t;
    }
    auto out = heads.decode(tensors);
    HIL_FUZZ_CHECK(out.heads_size() == iface.outputs_size(), "%d heads decoded for %d bindings",
                   out.heads_size(), iface.outputs_size());
  } catch (const evals::InterfaceError&) {
  }
  return 0;
}
