/* An example metric plugin (docs/metrics.md): how much the commanded
 * steering jumps from frame to frame, the mean of |steering(t) -
 * steering(t-1)| over consecutive frames that both have outputs, in radians
 * per frame. Lower is smoother. Params: "head=NAME" picks the control head
 * (default "control"). Built by this repo's CMake as libsteering_jerk.so; a
 * team builds its own the same way against metric_plugin.h alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hil/evals/metric_plugin.h"

typedef struct state {
  char field[128]; /* "HEAD.steering" */
  double sum;
  long count;
  int have_previous;
  double previous;
} state;

static void* begin(const char* params, const char** error) {
  const char* head = "control";
  size_t head_len = strlen(head);
  if (params && *params) {
    if (strncmp(params, "head=", 5) != 0 || params[5] == '\0') {
      *error = "params: expected head=NAME";
      return NULL;
    }
    head = params + 5;
    head_len = strlen(head);
  }
  if (head_len + sizeof(".steering") > sizeof(((state*)0)->field)) {
    *error = "params: head name too long";
    return NULL;
  }
  state* s = calloc(1, sizeof(state));
  if (!s) {
    *error = "out of memory";
    return NULL;
  }
  memcpy(s->field, head, head_len);
  memcpy(s->field + head_len, ".steering", sizeof(".steering"));
  return s;
}

static void add_frame(void* p, const hil_metric_frame* frame) {
  state* s = p;
  const hil_value* steering = NULL;
  for (size_t i = 0; frame->has_outputs && i < frame->output_count; ++i) {
    if (strcmp(frame->outputs[i].name, s->field) == 0) steering = &frame->outputs[i];
  }
  if (!steering || !isfinite(steering->value)) {
    s->have_previous = 0; /* a gap breaks the sequence */
    return;
  }
  if (s->have_previous) {
    s->sum += fabs(steering->value - s->previous);
    s->count++;
  }
  s->previous = steering->value;
  s->have_previous = 1;
}

static int finish(void* p, double* value, int* defined, const char** error) {
  state* s = p;
  (void)error;
  if (s->count == 0) {
    *defined = 0; /* fewer than two consecutive frames with a command */
    return 1;
  }
  *value = s->sum / (double)s->count;
  *defined = 1;
  return 1;
}

static void end(void* p) { free(p); }

static const hil_metric_plugin kPlugin = {
    HIL_METRIC_PLUGIN_ABI,
    "steering_jerk",
    "rad/frame",
    0,
    "mean absolute change of the commanded steering between consecutive frames",
    begin,
    add_frame,
    finish,
    end,
};

const hil_metric_plugin* hil_metric_plugin_v1(void) { return &kPlugin; }
