/* A board's engines as a plugin: a shared library with this small C
 * interface, loaded by `hil agent --backend PATH.so`, runs the compiled plans
 * on real hardware (or anything else) instead of the emulated engines. Plain
 * C, so a vendor builds it with any compiler, outside this tree, against this
 * one header; docs/backends.md is the guide and
 * dual_engine/plugins/opencv_measured.cpp a complete example.
 *
 *   static const hil_backend_plugin kPlugin = {HIL_BACKEND_PLUGIN_ABI, "my-npu", 1,
 *                                              open_fn, close_fn, load_fn, unload_fn,
 *                                              run_fn, release_fn};
 *   const hil_backend_plugin* hil_backend_plugin_v1(void) { return &kPlugin; }
 *
 * Objects and lifetimes. `open` makes one backend per board (its context on
 * the device); `load` makes one program per plan and engine on it; `run`
 * executes a program once and hands back outputs the plugin owns until
 * `release` (the host copies them first). Every program is unloaded before
 * its backend is closed. Everything the host passes in (plans, tensors,
 * names) lives for the call only: copy what you keep.
 *
 * Threads. `open`, `close`, `load` and `unload` never overlap for one
 * backend (the host serialises them). `run` is called concurrently: the two
 * engine threads of an eval run their programs at the same time, and a board
 * with several slots plays several evals at once, each with programs of its
 * own. One program never runs twice at once, and its `release` comes from the
 * thread that ran it, before its next `run`.
 *
 * Errors. A function that fails returns NULL or a status other than
 * HIL_BACKEND_OK and writes a message (NUL-terminated, truncated to fit) into
 * the host's `error` buffer of `error_size` bytes. A refused `load` fails the
 * eval as the network's fault (the plan does not fit this board); a run that
 * reports CRASHED or HUNG fails that engine (the other one takes over, as on
 * a board whose engine died), SRAM_ERROR poisons that frame's outputs. */
#ifndef HIL_DUAL_ENGINE_BACKEND_PLUGIN_H
#define HIL_DUAL_ENGINE_BACKEND_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any change to the structs or functions below; the host refuses a
 * plugin built against another version. */
#define HIL_BACKEND_PLUGIN_ABI 1

/* How a run ended, as the engine reports it. */
typedef enum hil_backend_status {
  HIL_BACKEND_OK = 0,
  HIL_BACKEND_CRASHED = 1,    /* the engine died (reset, lost context) */
  HIL_BACKEND_HUNG = 2,       /* the engine stopped answering; its own watchdog gave up */
  HIL_BACKEND_SRAM_ERROR = 3, /* uncorrectable SRAM (ECC) error: this run's outputs are bad */
} hil_backend_status;

/* A float32 tensor, row-major, `shape[0] * ... * shape[rank - 1]` values
 * (1 when rank is 0). */
typedef struct hil_backend_tensor {
  const char* name;
  const int64_t* shape;
  size_t rank;
  const float* data;
  size_t count; /* values in data */
} hil_backend_tensor;

/* A tensor's name and shape, without values. */
typedef struct hil_backend_tensor_info {
  const char* name;
  const int64_t* shape;
  size_t rank;
} hil_backend_tensor_info;

/* One compiled plan: a self-contained ONNX model (its graph inputs and
 * outputs are exactly `inputs` and `outputs`, float32 all) for one engine. */
typedef struct hil_backend_plan {
  const void* onnx;
  size_t onnx_size;
  const hil_backend_tensor_info* inputs;
  size_t input_count;
  const hil_backend_tensor_info* outputs;
  size_t output_count;
  int engine;                /* 0 or 1 */
  const char* role;          /* "extender", "commander" or "standby", for messages */
  double expected_device_us; /* the compiler's cost-model estimate of one run */
} hil_backend_plan;

/* What one run produced. The plugin fills it; its arrays stay valid until
 * `release` is called with it. */
typedef struct hil_backend_run {
  const hil_backend_tensor* outputs; /* every plan output, by name, when the run is OK */
  size_t output_count;
  double device_us;  /* device time of this run, in microseconds */
  void* plugin_data; /* the plugin's own bookkeeping for `release` */
} hil_backend_run;

typedef struct hil_backend_plugin {
  uint32_t abi_version; /* HIL_BACKEND_PLUGIN_ABI */
  const char* name;     /* for messages and `hil boards` */
  /* 1: device_us is measured on the device (it varies run to run, and
   * reports say latency was measured); 0: it is computed (a simulator). */
  int measures_time;

  /* Opens the backend for one board. `options`: the agent's
   * --backend-options text ("" when none). */
  void* (*open)(const char* options, char* error, size_t error_size);
  void (*close)(void* backend);
  /* Loads a plan onto engine plan->engine. NULL with a message when the
   * engine cannot take it (an operator its compiler lacks, SRAM too small). */
  void* (*load)(void* backend, const hil_backend_plan* plan, char* error, size_t error_size);
  void (*unload)(void* program);
  /* Runs the program once on `inputs` (every plan input, by name) and fills
   * `run` (zeroed by the host). A status other than OK comes with a message
   * in `error`; its outputs, if any, are ignored. */
  hil_backend_status (*run)(void* program, const hil_backend_tensor* inputs, size_t input_count,
                            hil_backend_run* run, char* error, size_t error_size);
  /* Frees what `run` handed back (called once per run, whatever its status). */
  void (*release)(void* program, hil_backend_run* run);
} hil_backend_plugin;

/* The one symbol a plugin exports. */
const hil_backend_plugin* hil_backend_plugin_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* HIL_DUAL_ENGINE_BACKEND_PLUGIN_H */
