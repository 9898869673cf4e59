// Metric plugins (metric_plugin.h), C++ side: finding and loading a plugin,
// checking it against the suite's declaration, and scoring one eval with it
// from the eval's decoded outputs and the clip's ground truth. The
// scheduler does this for every eval of a run whose suite names a plugin.
//
//   auto plugin = MetricPlugin::load("steering_jerk");   // cached per process
//   plugin->check(spec);                                  // direction and unit
//   std::optional<double> v = plugin->score(spec.plugin().params(), truth_frames, outputs, iface);
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "evals/proto/clip.pb.h"
#include "evals/proto/model.pb.h"
#include "evals/proto/outputs.pb.h"
#include "evals/proto/suite.pb.h"
#include "hil/evals/metric_plugin.h"

namespace hil::evals {

// A plugin that cannot be found or loaded, does not match its declaration,
// or failed on an eval; what() names the library and the metric.
class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class MetricPlugin {
 public:
  // `library` is a path (it has a '/'), or a name looked up in the folders of
  // HIL_METRIC_PLUGINS (':'-separated) as NAME, libNAME.so or NAME.so. Loaded
  // once per process and kept.
  static std::shared_ptr<const MetricPlugin> load(const std::string& library);

  // Throws PluginError when the suite declares another direction or unit,
  // or the plugin refuses the suite's params.
  void check(const suite::MetricSpec& spec) const;

  // The eval's value, or nullopt when the plugin says it does not apply.
  std::optional<double> score(const std::string& params, const std::vector<clip::Frame>& truth,
                              const outputs::EvalOutputs& outputs,
                              const model::ModelInterface& iface) const;

  const hil_metric_plugin& abi() const { return *abi_; }
  const std::string& path() const { return path_; }

  MetricPlugin(std::string path, void* handle, const hil_metric_plugin* abi)
      : path_(std::move(path)), handle_(handle), abi_(abi) {}

 private:
  std::string path_;
  void* handle_;
  const hil_metric_plugin* abi_;
};

// Every plugin metric of the suite for one eval: name -> value (undefined
// ones left out). Throws PluginError naming the metric that failed.
std::map<std::string, double> score_plugin_metrics(const suite::Suite& suite,
                                                   const std::vector<clip::Frame>& truth,
                                                   const outputs::EvalOutputs& outputs,
                                                   const model::ModelInterface& iface);

bool has_plugin_metrics(const suite::Suite& suite);

}  // namespace hil::evals
