// The per-frame series of one eval, decoded from the database, and what the
// charts make of them. Boards name series by what they are, not by metric:
// "out.HEAD.FIELD" (a scalar head's output), "truth.HEAD.FIELD" (the truth a
// regression metric compares that output with), "frame.METRIC" (a declared
// metric's per-frame value), "host_ms", "device_ms" and "commander" (-1 on a
// frame without outputs). Nothing here knows a head's or a metric's name:
// units come from the suite's metric definitions and from the head kinds.
// A frame the series does not cover reads as NaN: shown as missing, never
// as a neighbour.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "clip_diff.h"
#include "hil/db/store.h"
#include "hil/evals/model_interface.h"

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
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  // A stored series by name; empty if unknown.
  std::vector<float> series(const std::string& name) const;
  // One value; NaN when the series is unknown or shorter than `frame`.
  float at(const std::string& name, int64_t frame) const;
  // Stored names, sorted.
  std::vector<std::string> names() const;

 private:
  int64_t eval_id_ = 0;
  uint32_t frames_ = 0;
  std::map<std::string, std::vector<float>> values_;
};

// A head's kind (its decoder), by head name.
using HeadKinds = std::map<std::string, hil::evals::HeadKind>;

// "out.X" -> "truth.X" (the truth a regression metric compares the output
// with, when the eval stored it); "" for any other series.
std::string truth_series_of(const std::string& name);

// The series a chart can show, in the order the pickers list them: those
// explaining the table's metrics (in table order), then the other head
// outputs, the other per-frame metrics, and the rest. The truth series are
// not listed: charts draw them beside their outputs.
std::vector<std::string> chartable_series(const EvalSeries& a, const EvalSeries& b,
                                          const std::vector<DiffMetric>& metrics);

// What `count` charts show until the user picks: the series explaining the
// clip's worst metric (`worst_metric` indexes `metrics`, -1: none), then
// those of the other metrics in table order, then the rest of `chartable`,
// each once.
std::vector<std::string> default_chart_series(const std::vector<std::string>& chartable,
                                              const std::vector<DiffMetric>& metrics,
                                              int worst_metric, size_t count);

// Unit of a series: for "frame.METRIC", the unit the metric's definition
// gives its per-frame values (DiffMetric::series_unit, else the metric's);
// for the output a regression metric reads, and its truth, the metric's;
// else, for "out.*" and "truth.*", the unit of the head kind's field
// (control: rad, m/s^2; lead: score, m); "ms" for times, "engine" for the
// commander; "" if unknown (a tensor field no metric reads).
std::string series_unit(const std::string& name, const std::vector<DiffMetric>& metrics,
                        const HeadKinds& kinds);

// "out.HEAD.FIELD" or "truth.HEAD.FIELD" -> {HEAD, FIELD}; false for any
// other name. A head name has no dot; a field may.
bool split_head_series(const std::string& name, std::string* head, std::string* field);

}  // namespace hil::viewer
