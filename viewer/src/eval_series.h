// The per-frame series of one eval (network outputs, ground truth, latencies,
// the commanding engine), decoded from the database, and what the frame view
// and charts read from them. A frame the series does not cover, or a frame
// without a command, reads as NaN: shown as missing, never as a neighbour.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hil/db/store.h"

namespace hil::viewer {

class EvalSeries {
 public:
  EvalSeries() = default;
  // Decodes every blob (evals::decode_series). Throws std::runtime_error
  // naming the eval and series when one does not decode.
  EvalSeries(int64_t eval_id, const std::vector<hil::db::SeriesBlob>& blobs);

  int64_t eval_id() const { return eval_id_; }
  // The longest series' length (the frames the eval played).
  uint32_t frames() const { return frames_; }
  bool empty() const { return values_.empty(); }
  bool has(const std::string& name) const;
  // Stored series by name, plus the derived error series "err.lane_offset",
  // "err.steering" and "err.lead_distance" (|out - truth|). Empty if unknown.
  std::vector<float> series(const std::string& name) const;
  // One value; NaN when the series is unknown or shorter than `frame`.
  float at(const std::string& name, int64_t frame) const;
  // Stored names, sorted, then the derived ones that can be computed.
  std::vector<std::string> names() const;

 private:
  int64_t eval_id_ = 0;
  uint32_t frames_ = 0;
  std::map<std::string, std::vector<float>> values_;
};

// What a revision predicted on one frame (the frame view's overlays).
struct Prediction {
  bool valid = false;  // false: no command on this frame, or no such frame
  float lane_offset = 0, lane_heading = 0, lead_score = 0, lead_distance = 0, steering = 0;
  float acceleration = 0;
  bool lead_present() const { return lead_score > 0.5f; }
};
Prediction prediction_at(const EvalSeries& series, int64_t frame);

// The series a chart can show, in the order the pickers list them.
std::vector<std::string> chartable_series(const EvalSeries& a, const EvalSeries& b);
// "out.lane_offset" -> "truth.lane_offset" when the truth is stored, else "".
std::string truth_series_of(const std::string& name);
// Unit of a stored or derived series ("m", "rad", "ms", ...), "" if unknown.
std::string series_unit(const std::string& name);

}  // namespace hil::viewer
