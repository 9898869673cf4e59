/* A metric plugin for tests: it loads and takes any params, then fails on
 * every eval, so that the scheduler's handling of a failing plugin is tested
 * with a real shared library. */
#include <stdlib.h>

#include "hil/evals/metric_plugin.h"

static void* begin(const char* params, const char** error) {
  (void)params;
  (void)error;
  return malloc(1);
}
static void add_frame(void* state, const hil_metric_frame* frame) {
  (void)state;
  (void)frame;
}
static int finish(void* state, double* value, int* defined, const char** error) {
  (void)state;
  (void)value;
  (void)defined;
  *error = "this test plugin fails on every eval";
  return 0;
}
static void end(void* state) { free(state); }

static const hil_metric_plugin kPlugin = {
    HIL_METRIC_PLUGIN_ABI, "failing", "", 0, "fails", begin, add_frame, finish, end};

const hil_metric_plugin* hil_metric_plugin_v1(void) { return &kPlugin; }
