// The scheduler's known answers for health checks: an eval played on the
// scheduler's host exactly as an emulated board of the type would play it
// (the board type's own backend, one thread), so that boards are checked
// against the host, never against each other. Plug it in as
// SchedulerOptions::reference_executor.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hil/harness/scheduler.h"

namespace hil::device_agents {

// The eval's summary metrics. Throws what play_eval throws on bad input, and
// std::invalid_argument for an unknown board type.
std::vector<std::pair<std::string, double>> host_reference(const harness::ReferenceJob& job);

}  // namespace hil::device_agents
