// The partitioning compiler and NPU cost model: costs every node from its
// inferred shapes, cuts the graph into two partitions (extender first,
// commander second) that balance the engines under their SRAM budgets while
// moving few bytes across the cut, and emits a full-graph standby plan per
// engine for failover. Every plan is a self-contained ONNX model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dual_engine/proto/board.pb.h"
#include "hil/dual_engine/model.h"

namespace hil::dual_engine {

// Loads a board type by name from the shipped boards directory, or by path;
// throws std::runtime_error naming the file and line at fault.
board::BoardType load_board_type(const std::string& name_or_path);
std::vector<std::string> list_board_types();

struct NodeCost {
  std::string node;
  std::string op_type;
  uint64_t macs = 0;
  uint64_t bytes_moved = 0;  // inputs + outputs + weights
  uint64_t weight_bytes = 0;
  uint64_t output_bytes = 0;
};

struct PartitionPlan {
  std::string role;           // "extender", "commander", "standby"
  std::vector<size_t> nodes;  // indices into Model::nodes()
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  std::string onnx;  // serialised sub-model, checked
  uint64_t macs = 0;
  uint64_t weight_bytes = 0;
  uint64_t peak_activation_bytes = 0;
  uint64_t spill_bytes = 0;  // working set beyond SRAM, moved per frame
  double device_us = 0;      // emulated time on its engine
};

struct CompiledModel {
  std::string revision_sha;
  std::string board_type;
  std::vector<NodeCost> costs;
  size_t cut = 0;        // nodes [0, cut) are the first partition
  PartitionPlan first;   // run by the extender (frame t+1)
  PartitionPlan second;  // run by the commander (frame t), emits the outputs
  std::vector<TensorInfo> cut_tensors;
  uint64_t cut_bytes = 0;
  double transfer_us = 0;
  PartitionPlan standby[2];  // full graph, costed on engine 0 and engine 1
  std::vector<TensorInfo> graph_inputs, graph_outputs;
  double split_period_us() const;   // steady-state time per frame, pipelined
  double split_latency_us() const;  // one frame through both partitions
};

CompiledModel compile(const Model& model, const board::BoardType& board);

// A human-readable plan (hil models inspect).
std::string describe_plan(const Model& model, const CompiledModel& plan);

}  // namespace hil::dual_engine
