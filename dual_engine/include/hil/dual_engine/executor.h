// Executes one partition plan (an ONNX sub-model) with OpenCV DNN on the CPU.
// OpenCV stays behind this header: the rest of hil sees plain tensors.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hil/dual_engine/compiler.h"

namespace hil::dual_engine {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};
using TensorMap = std::map<std::string, Tensor>;

class PartitionExecutor {
 public:
  // Builds the OpenCV network from the plan's ONNX bytes; throws ModelError
  // when OpenCV refuses the model.
  explicit PartitionExecutor(const PartitionPlan& plan);
  ~PartitionExecutor();
  PartitionExecutor(PartitionExecutor&&) noexcept;
  PartitionExecutor& operator=(PartitionExecutor&&) noexcept;

  // Runs the partition; inputs must hold every plan input with its shape.
  TensorMap run(const TensorMap& inputs);
  const PartitionPlan& plan() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs a whole ONNX model (bytes) once, without compiling: the baseline for
// conformance and overhead benchmarks.
TensorMap run_whole_model(const std::string& onnx_bytes, const TensorMap& inputs,
                          const std::vector<std::string>& output_names);

// Limits OpenCV to one thread per caller, so engine threads and the rack's
// host pool decide parallelism (and results stay deterministic).
void use_single_thread_kernels();

}  // namespace hil::dual_engine
