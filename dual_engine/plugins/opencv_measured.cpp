// An example backend plugin (docs/backends.md): runs each plan with OpenCV
// DNN on the host CPU and measures its device time with a steady clock
// around the forward pass. It sees nothing of hil but backend_plugin.h, so it
// is also the skeleton of a vendor's plugin: replace the network with the
// SDK's compiled program and the clock with the device's timer.
//
// Options (`hil agent --backend-options`): "fail=ENGINE:STATUS@RUN" makes
// engine 0 or 1 report STATUS (crashed, hung or sram) on its RUN-th run
// (counted from 0 since the backend opened, over all its plans), to see the
// fault reporting work end to end; "" runs clean.
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "hil/dual_engine/backend_plugin.h"

namespace {

void set_error(char* error, size_t error_size, const std::string& message) {
  if (error && error_size > 0) std::snprintf(error, error_size, "%s", message.c_str());
}

// A device-wide context: a real backend keeps its device handle here. Runs
// of both engines' programs come from several threads at once, so what they
// share is atomic.
struct Backend {
  std::atomic<uint64_t> runs[2] = {0, 0};  // per engine, for injected faults
  int fail_engine = -1;                    // -1: no injected fault
  hil_backend_status fail_status = HIL_BACKEND_OK;
  uint64_t fail_run = 0;
};

struct Program {
  Backend* backend = nullptr;
  cv::dnn::Net net;
  int engine = 0;
  std::vector<std::string> inputs;
  std::vector<cv::String> outputs;
};

// Parses "fail=ENGINE:STATUS@RUN"; returns "" or what is wrong.
std::string parse_options(const std::string& options, Backend& backend) {
  if (options.empty()) return "";
  const std::string usage = "options '" + options +
                            "': expected fail=ENGINE:STATUS@RUN (ENGINE 0 or 1, STATUS "
                            "crashed, hung or sram)";
  const auto colon = options.find(':'), at = options.find('@');
  if (options.rfind("fail=", 0) != 0 || colon == std::string::npos || at == std::string::npos ||
      at < colon) {
    return usage;
  }
  const std::string engine = options.substr(5, colon - 5),
                    status = options.substr(colon + 1, at - colon - 1);
  if (engine != "0" && engine != "1") return usage;
  backend.fail_engine = engine == "1";
  if (status == "crashed") {
    backend.fail_status = HIL_BACKEND_CRASHED;
  } else if (status == "hung") {
    backend.fail_status = HIL_BACKEND_HUNG;
  } else if (status == "sram") {
    backend.fail_status = HIL_BACKEND_SRAM_ERROR;
  } else {
    return usage;
  }
  try {
    backend.fail_run = std::stoull(options.substr(at + 1));
  } catch (const std::exception&) {
    return usage;
  }
  return "";
}

// What a run hands back, owned until release().
struct RunOutputs {
  std::vector<cv::Mat> mats;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<hil_backend_tensor> tensors;
};

void* open_backend(const char* options, char* error, size_t error_size) {
  try {
    auto backend = std::make_unique<Backend>();
    if (auto why = parse_options(options ? options : "", *backend); !why.empty()) {
      set_error(error, error_size, why);
      return nullptr;
    }
    return backend.release();
  } catch (const std::exception& e) {
    set_error(error, error_size, e.what());
    return nullptr;
  }
}

void close_backend(void* backend) { delete static_cast<Backend*>(backend); }

void* load_plan(void* backend, const hil_backend_plan* plan, char* error, size_t error_size) {
  try {
    auto program = std::make_unique<Program>();
    program->backend = static_cast<Backend*>(backend);
    program->net = cv::dnn::readNetFromONNX(static_cast<const char*>(plan->onnx), plan->onnx_size);
    program->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    program->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    program->engine = plan->engine;
    for (size_t i = 0; i < plan->input_count; ++i)
      program->inputs.emplace_back(plan->inputs[i].name);
    for (size_t i = 0; i < plan->output_count; ++i) {
      // OpenCV names a layer after its node's first output.
      const char* name = plan->outputs[i].name;
      if (program->net.getLayerId(name) < 0) {
        set_error(error, error_size,
                  std::string("OpenCV DNN has no layer producing tensor '") + name + "'");
        return nullptr;
      }
      program->outputs.emplace_back(name);
    }
    return program.release();
  } catch (const cv::Exception& e) {
    set_error(error, error_size,
              std::string("OpenCV DNN refuses the ") + plan->role + " plan: " + e.msg);
  } catch (const std::exception& e) {
    set_error(error, error_size, e.what());
  }
  return nullptr;
}

void unload_plan(void* program) { delete static_cast<Program*>(program); }

hil_backend_status run_plan(void* p, const hil_backend_tensor* inputs, size_t input_count,
                            hil_backend_run* run, char* error, size_t error_size) {
  auto* program = static_cast<Program*>(p);
  Backend& backend = *program->backend;
  const uint64_t run_index = backend.runs[program->engine]++;
  if (program->engine == backend.fail_engine && run_index == backend.fail_run) {
    set_error(error, error_size,
              "injected by the backend options (run " + std::to_string(run_index) + ")");
    return backend.fail_status;
  }
  try {
    for (size_t i = 0; i < input_count; ++i) {
      const hil_backend_tensor& t = inputs[i];
      std::vector<int> sizes(t.shape, t.shape + t.rank);
      if (sizes.empty()) sizes.push_back(1);
      if (sizes.size() == 1) sizes.push_back(1);  // cv::Mat needs at least two dimensions
      cv::Mat blob(static_cast<int>(sizes.size()), sizes.data(), CV_32F);
      if (blob.total() != t.count) {
        set_error(error, error_size,
                  std::string("input '") + t.name + "': values do not match its shape");
        return HIL_BACKEND_CRASHED;
      }
      std::copy(t.data, t.data + t.count, blob.ptr<float>());
      program->net.setInput(blob, t.name);
    }
    auto out = std::make_unique<RunOutputs>();
    const auto start = std::chrono::steady_clock::now();
    program->net.forward(out->mats, program->outputs);
    run->device_us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    for (size_t i = 0; i < out->mats.size(); ++i) {
      if (!out->mats[i].isContinuous()) out->mats[i] = out->mats[i].clone();
      const cv::Mat& m = out->mats[i];
      out->shapes.emplace_back(m.size.p, m.size.p + m.dims);
    }
    for (size_t i = 0; i < out->mats.size() && i < program->outputs.size(); ++i) {
      const cv::Mat& m = out->mats[i];
      out->tensors.push_back({program->outputs[i].c_str(), out->shapes[i].data(),
                              out->shapes[i].size(), m.ptr<float>(), m.total()});
    }
    run->outputs = out->tensors.data();
    run->output_count = out->tensors.size();
    run->plugin_data = out.release();
    return HIL_BACKEND_OK;
  } catch (const cv::Exception& e) {
    set_error(error, error_size, std::string("OpenCV DNN forward failed: ") + e.msg);
  } catch (const std::exception& e) {
    set_error(error, error_size, e.what());
  }
  return HIL_BACKEND_CRASHED;
}

void release_run(void* /*program*/, hil_backend_run* run) {
  delete static_cast<RunOutputs*>(run->plugin_data);
  run->plugin_data = nullptr;
}

const hil_backend_plugin kPlugin = {HIL_BACKEND_PLUGIN_ABI,
                                    "opencv-measured",
                                    /*measures_time=*/1,
                                    open_backend,
                                    close_backend,
                                    load_plan,
                                    unload_plan,
                                    run_plan,
                                    release_run};

}  // namespace

extern "C" const hil_backend_plugin* hil_backend_plugin_v1(void) { return &kPlugin; }
