// Conformance runs over the ONNX backend-test layout: a case directory holds
// model.onnx and test_data_set_*/{input,output}_*.pb (serialised TensorProto).
// Each case goes through hil's own pipeline (load, compile for a board,
// extender partition then commander partition) and, for comparison, through
// OpenCV DNN alone on the whole graph; both are held to the ONNX backend-test
// tolerance.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "dual_engine/proto/board.pb.h"

namespace hil::dual_engine {

// The tolerance of the ONNX backend tests (numpy.testing.assert_allclose):
// a value passes when |actual - expected| <= atol + rtol * |expected|.
inline constexpr double kConformanceRtol = 1e-3;
inline constexpr double kConformanceAtol = 1e-5;

enum class ConformanceOutcome {
  kPass,      // every output of every data set within tolerance
  kMismatch,  // ran, but an output is wrong, missing, or execution threw
  kRefused,   // declined up front: at load, compile, network construction, or
              // test data hil cannot take (non-float tensors)
  kError,     // anything else (an unexpected exception): a bug to fix
};
const char* outcome_name(ConformanceOutcome outcome);

struct ConformanceResult {
  std::string name;  // the case directory's name, e.g. "test_Conv2d"
  std::filesystem::path dir;
  ConformanceOutcome outcome = ConformanceOutcome::kError;
  std::string message;  // why it did not pass; empty on a pass
  // Over every compared value (infinite when NaN meets a number); NaN when no
  // value was compared (refused, execution failed, wrong number of values).
  double max_abs_error = std::numeric_limits<double>::quiet_NaN();
  double compile_ms = -1;  // compile() alone; negative when the case never reached it
  size_t nodes = 0;        // graph nodes, when hil loaded the model
  // The plan cuts the graph in two; otherwise (one node, nothing worth a
  // cut) both partitions are the whole graph.
  bool split = false;
  size_t model_bytes = 0;
  bool float_data = false;  // every input_*.pb and output_*.pb is a dense float tensor
  // OpenCV DNN alone on the whole, uncompiled model, same data and tolerance.
  bool opencv_whole_pass = false;
  std::string opencv_whole_message;  // why OpenCV alone did not pass
};

struct ConformanceTotals {
  size_t cases = 0, pass = 0, mismatch = 0, refused = 0, error = 0;
  size_t split_pass = 0;  // passes whose plan cuts the graph in two
  size_t opencv_whole_pass = 0;
  void add(const ConformanceResult& result);
};

// The cases found under one directory given on the command line.
struct ConformanceSet {
  std::filesystem::path dir;
  std::vector<ConformanceResult> results;
  ConformanceTotals totals;
  ConformanceTotals float_totals;  // the cases with float_data only
};

struct ConformanceReport {
  std::vector<ConformanceSet> sets;
  ConformanceTotals totals, float_totals;
  // The compiled case with the most nodes (ties: the larger file), or nullptr
  // when no case compiled: its compile time is the figure to watch.
  const ConformanceResult* largest_compiled() const;
};

// Runs one case directory. Never throws: every failure becomes an outcome.
ConformanceResult run_conformance_case(const std::filesystem::path& case_dir,
                                       const board::BoardType& board);

// Each directory is a case directory (it holds model.onnx) or a directory of
// case directories. Throws std::invalid_argument before running anything when
// a directory is neither. on_result, when set, sees each result as it is made.
ConformanceReport run_conformance(
    const std::vector<std::filesystem::path>& dirs, const board::BoardType& board,
    const std::function<void(const ConformanceResult&)>& on_result = {});

}  // namespace hil::dual_engine
