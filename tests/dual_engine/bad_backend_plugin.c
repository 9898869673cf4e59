/* Backend plugins the host must refuse, one per define (tests/CMakeLists.txt
 * builds each): built against another ABI version, without the entry symbol,
 * with a function missing, one whose device will not open, one whose engines
 * refuse every plan (HIL_TEST_REFUSES_LOAD: the defaults below), and one
 * whose runs say OK but return no outputs (HIL_TEST_EMPTY_OUTPUTS). */
#include <stdio.h>

#include "hil/dual_engine/backend_plugin.h"

static void* open_backend(const char* options, char* error, size_t error_size) {
  (void)options;
#ifdef HIL_TEST_REFUSES_OPEN
  snprintf(error, error_size, "no device at /dev/npu0");
  return NULL;
#else
  (void)error;
  (void)error_size;
  static int backend;
  return &backend;
#endif
}
static void close_backend(void* backend) { (void)backend; }
static void* load_plan(void* backend, const hil_backend_plan* plan, char* error,
                       size_t error_size) {
  (void)backend;
  (void)plan;
#ifdef HIL_TEST_EMPTY_OUTPUTS
  (void)error;
  (void)error_size;
  static int program;
  return &program;
#else
  snprintf(error, error_size, "this test plugin runs nothing");
  return NULL;
#endif
}
static void unload_plan(void* program) { (void)program; }
static hil_backend_status run_plan(void* program, const hil_backend_tensor* inputs,
                                   size_t input_count, hil_backend_run* run, char* error,
                                   size_t error_size) {
  (void)program;
  (void)inputs;
  (void)input_count;
#ifdef HIL_TEST_EMPTY_OUTPUTS
  /* "OK", with none of the plan's outputs. */
  (void)error;
  (void)error_size;
  run->output_count = 0;
  run->device_us = 1;
  return HIL_BACKEND_OK;
#else
  (void)run;
  snprintf(error, error_size, "this test plugin runs nothing");
  return HIL_BACKEND_CRASHED;
#endif
}
static void release_run(void* program, hil_backend_run* run) {
  (void)program;
  (void)run;
}

#ifdef HIL_TEST_WRONG_ABI
#define ABI (HIL_BACKEND_PLUGIN_ABI + 1)
#else
#define ABI HIL_BACKEND_PLUGIN_ABI
#endif
#ifdef HIL_TEST_MISSING_RUN
#define RUN NULL
#else
#define RUN run_plan
#endif

static const hil_backend_plugin kPlugin = {
    ABI,       "bad-test-backend", 0,   open_backend, close_backend,
    load_plan, unload_plan,        RUN, release_run};

#ifdef HIL_TEST_NO_ENTRY
/* Exports a plugin table under the wrong name. */
const hil_backend_plugin* hil_backend_plugin_v0(void) { return &kPlugin; }
#else
const hil_backend_plugin* hil_backend_plugin_v1(void) { return &kPlugin; }
#endif
