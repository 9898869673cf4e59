// The decoded outputs of one eval (outputs.proto: what every head said on
// every frame, lanes and objects included), as the database keeps them
// beside the per-frame series unless the suite drops them; and what the
// frame view draws of one revision on one frame. No Qt, and no head known by
// name: heads are told apart by their kind (their decoder), read from the
// results themselves because the interface travels inside the revision's
// ONNX file, not in the database.
//
//   EvalResults r{source.eval_series(id), source.eval_outputs(id)};
//   r.kinds = head_kinds(r.series, r.outputs);
//   RevisionFrame now = revision_frame(r, frame);  // lanes, objects, needles
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval_series.h"
#include "evals/proto/outputs.pb.h"

namespace hil::viewer {

class EvalOutputs {
 public:
  // No outputs stored (an eval of a suite that drops them, an old database).
  EvalOutputs() = default;
  // Throws std::runtime_error when a frame's number is far past the frames
  // the blob holds (a damaged blob).
  explicit EvalOutputs(const hil::outputs::EvalOutputs& decoded);

  bool stored() const { return stored_; }
  // Frames covered (0 when none are stored).
  uint32_t frames() const { return static_cast<uint32_t>(frames_.size()); }
  // Frame k's outputs; nullptr when none are stored or k is past them.
  const hil::outputs::FrameOutputs* frame(int64_t k) const;

 private:
  bool stored_ = false;
  std::vector<hil::outputs::FrameOutputs> frames_;  // by frame number
};

// One revision's results on the selected clip.
struct EvalResults {
  EvalSeries series;
  EvalOutputs outputs;
  HeadKinds kinds;
  std::string outputs_error;  // why stored outputs could not be read; "" if they could
};

// The kind of each head a revision has, from its results: a scalar head's
// series fields are its decoder's (control: steering and acceleration;
// lead: score and distance; any other: a tensor), and the stored outputs
// show lanes, objects and tensor values. A head whose outputs are empty on
// every frame has no kind (there is nothing of it to draw).
HeadKinds head_kinds(const EvalSeries& series, const EvalOutputs& outputs);

// What one revision said on one frame, for the frame view. Scalar heads are
// read from the series, so that evals without stored outputs show them too.
struct RevisionFrame {
  enum class Status {
    kOutputs,  // the heads answered
    kGap,      // no outputs this frame (the engines failed to answer in time)
    kPastEnd,  // the eval has no such frame
  };
  struct Steering {
    std::string head;
    float value = 0;
    float truth = 0;  // truth.HEAD.steering, else NaN: the clip's control
  };
  struct Lead {
    std::string head;
    bool present = false;  // the decoder's verdict; without stored outputs, score >= 0.5
    float score = 0, distance = 0;
  };
  Status status = Status::kPastEnd;
  // Lanes and objects of every head; nullptr when outputs are not stored.
  const hil::outputs::FrameOutputs* outputs = nullptr;
  std::vector<Steering> steering;  // one per control head
  std::vector<Lead> leads;         // one per lead head
};
RevisionFrame revision_frame(const EvalResults& results, int64_t frame);

}  // namespace hil::viewer
