#include "eval_outputs.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

namespace hil::viewer {
namespace {

using hil::evals::HeadKind;

// What the lead decoder's threshold is when the suite's interface leaves it
// at 0 (model.proto LeadDecoder.threshold); used only when outputs, which
// carry the decoder's own verdict, are not stored.
constexpr float kDefaultLeadThreshold = 0.5f;

constexpr uint32_t kMaxMissingFrames = 100000;

bool is_subset(const std::set<std::string>& fields, std::initializer_list<const char*> of) {
  return std::all_of(fields.begin(), fields.end(), [&](const std::string& f) {
    return std::any_of(of.begin(), of.end(), [&](const char* o) { return f == o; });
  });
}

}  // namespace

EvalOutputs::EvalOutputs(const hil::outputs::EvalOutputs& decoded) : stored_(true) {
  uint32_t count = 0;
  for (const auto& f : decoded.frames()) {
    // Frames are numbered from 0 in play order: a number far past the
    // frames sent is a damaged blob, not a reason to allocate gigabytes.
    if (f.frame() > static_cast<uint32_t>(decoded.frames_size()) + kMaxMissingFrames) {
      throw std::runtime_error(
          fmt::format("outputs of frame {}, but {} frames sent", f.frame(), decoded.frames_size()));
    }
    count = std::max(count, f.frame() + 1);
  }
  frames_.resize(count);  // a frame the board did not send reads as a gap
  for (const auto& f : decoded.frames()) frames_[f.frame()] = f;
}

const hil::outputs::FrameOutputs* EvalOutputs::frame(int64_t k) const {
  if (k < 0 || static_cast<size_t>(k) >= frames_.size()) return nullptr;
  return &frames_[static_cast<size_t>(k)];
}

HeadKinds head_kinds(const EvalSeries& series, const EvalOutputs& outputs) {
  HeadKinds kinds;
  std::map<std::string, std::set<std::string>> fields;
  for (const auto& name : series.names()) {
    std::string head, field;
    if (name.rfind("out.", 0) == 0 && split_head_series(name, &head, &field)) {
      fields[head].insert(field);
    }
  }
  for (const auto& [head, names] : fields) {
    kinds[head] = is_subset(names, {"steering", "acceleration"}) ? HeadKind::kControl
                  : is_subset(names, {"score", "distance"})      ? HeadKind::kLead
                                                                 : HeadKind::kTensor;
  }
  // The outputs settle the rest, and a tensor whose fields happen to be
  // named like a control or lead decoder's.
  for (uint32_t k = 0; k < outputs.frames(); ++k) {
    for (const auto& h : outputs.frame(k)->heads()) {
      if (h.lanes_size() > 0) kinds[h.head()] = HeadKind::kLanes;
      if (h.objects_size() > 0) kinds[h.head()] = HeadKind::kObjects;
      if (h.values_size() > 0) kinds[h.head()] = HeadKind::kTensor;
    }
  }
  return kinds;
}

RevisionFrame revision_frame(const EvalResults& results, int64_t frame) {
  RevisionFrame out;
  const EvalSeries& series = results.series;
  if (frame < 0 || frame >= std::max<int64_t>(series.frames(), results.outputs.frames())) {
    return out;
  }
  if (results.outputs.stored()) {
    const auto* f = results.outputs.frame(frame);
    out.status = f != nullptr && f->has_outputs() ? RevisionFrame::Status::kOutputs
                                                  : RevisionFrame::Status::kGap;
    if (out.status == RevisionFrame::Status::kOutputs) out.outputs = f;
  } else {
    // The commander series is -1 on a frame without outputs.
    const float commander = series.at("commander", frame);
    out.status = std::isnan(commander) || commander < 0 ? RevisionFrame::Status::kGap
                                                        : RevisionFrame::Status::kOutputs;
  }
  if (out.status != RevisionFrame::Status::kOutputs) return out;
  for (const auto& [head, kind] : results.kinds) {
    const std::string prefix = "out." + head + ".";
    if (kind == hil::evals::HeadKind::kControl) {
      const float value = series.at(prefix + "steering", frame);
      if (std::isnan(value)) continue;
      out.steering.push_back({head, value, series.at("truth." + head + ".steering", frame)});
    } else if (kind == hil::evals::HeadKind::kLead) {
      RevisionFrame::Lead lead;
      lead.head = head;
      lead.score = series.at(prefix + "score", frame);
      lead.distance = series.at(prefix + "distance", frame);
      lead.present = lead.score >= kDefaultLeadThreshold;
      if (out.outputs != nullptr) {
        for (const auto& h : out.outputs->heads()) {
          if (h.head() == head) lead.present = h.lead_present();
        }
      }
      out.leads.push_back(lead);
    }
  }
  return out;
}

}  // namespace hil::viewer
