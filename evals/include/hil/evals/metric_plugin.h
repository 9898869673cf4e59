/* A team's own metric as a plugin: a shared library with this small C
 * interface, named in a suite (`metrics { name: "..." plugin { library:
 * "libmy_metric.so" params: "..." direction: LOWER_IS_BETTER unit: "m" } }`)
 * and loaded by the scheduler, which scores every eval of the run with it
 * from the eval's decoded outputs and the clip's ground truth, then records
 * the value beside the catalogue's metrics. Plain C, so a plugin builds with
 * any compiler, outside this tree, against this one header.
 *
 *   static const hil_metric_plugin kPlugin = {HIL_METRIC_PLUGIN_ABI, "steering_jerk", "rad/frame",
 * 0,
 *                                             "...", begin, add_frame, finish, end};
 *   const hil_metric_plugin* hil_metric_plugin_v1(void) { return &kPlugin; }
 *
 * Frames arrive in order, once each; pointers in a frame live for the call.
 * A plugin keeps per-eval state in what `begin` returns; hil calls it from
 * one thread at a time per state, and may score several evals at once with
 * separate states. evals/plugins/steering_jerk.c is a complete example;
 * docs/metrics.md tells how to build and name one. */
#ifndef HIL_EVALS_METRIC_PLUGIN_H
#define HIL_EVALS_METRIC_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HIL_METRIC_PLUGIN_ABI 1

/* A named scalar. Truth: "control.steering", "control.acceleration",
 * "ego.lane_offset", "ego.lane_heading", "ego.lead_present" (0 or 1),
 * "ego.lead_distance", "ego.curvature", "odometry.speed",
 * "odometry.yaw_rate" (NaN when the clip lacks it). Outputs: "HEAD.FIELD"
 * for control (steering, acceleration), lead (score, present, distance) and
 * tensor heads (their named fields). */
typedef struct hil_value {
  const char* name;
  double value;
} hil_value;

/* A labelled object or a detection. Classes as hil.clip.ObjectClass:
 * 0 unknown, 1 car, 2 truck, 3 pedestrian, 4 cyclist, 5 cone. */
typedef struct hil_object {
  const char* head; /* detections: the head that found it; truth: "" */
  int cls;
  float score; /* detections; 1 for truth */
  int has_box; /* a 2D box in `camera`'s pixels */
  const char* camera;
  float x0, y0, x1, y1;
  int has_cuboid; /* a 3D box in the ego frame (x forward, y left, z up) */
  float x, y, z, length, width, height, yaw;
} hil_object;

typedef struct hil_metric_frame {
  uint32_t index;
  double timestamp;
  int has_outputs; /* 0: the network produced nothing in time on this frame */
  const hil_value* truth;
  size_t truth_count;
  const hil_value* outputs;
  size_t output_count;
  const hil_object* truth_objects;
  size_t truth_object_count;
  const hil_object* detections;
  size_t detection_count;
} hil_metric_frame;

typedef struct hil_metric_plugin {
  uint32_t abi_version; /* HIL_METRIC_PLUGIN_ABI */
  const char* name;     /* for messages */
  const char* unit;     /* must match the suite's declaration when it gives one */
  int higher_is_better; /* must match the suite's direction */
  const char* description;
  /* One eval's state, from the suite's params; NULL and *error (a string the
   * plugin owns) when the params are wrong. */
  void* (*begin)(const char* params, const char** error);
  void (*add_frame)(void* state, const hil_metric_frame* frame);
  /* Returns 1 and sets *value, or sets *defined = 0 when the metric does not
   * apply to this clip; returns 0 with *error on failure (the eval fails). */
  int (*finish)(void* state, double* value, int* defined, const char** error);
  void (*end)(void* state);
} hil_metric_plugin;

/* The one symbol a plugin exports. */
const hil_metric_plugin* hil_metric_plugin_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* HIL_EVALS_METRIC_PLUGIN_H */
