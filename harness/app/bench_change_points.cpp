// hil bench change-points: how often the nightly report's change-point search
// raises a false alarm on series that never changed (independent normal
// values), per series and per night's report (a family of series with
// Benjamini-Hochberg across them), with Clopper-Pearson bounds.
#include <memory>

#include <fmt/format.h>

#include "commands.h"
#include "hil/evals/change_points.h"
#include "hil/evals/gate.h"
#include "hil/evals/splitmix.h"

namespace hil::app {
namespace {

struct ChangePointBench {
  int series = 1000;
  int length = 14;  // the nightly report's default history
  int family = 20;  // series in one night's report
  double alpha = 0.05;
};

void run_change_point_bench(const ChangePointBench& b) {
  evals::ChangePointOptions o;
  o.alpha = b.alpha;
  const double per_series = evals::change_point_false_alarm_rate(b.series, b.length, o);
  const auto alarms = static_cast<uint64_t>(per_series * b.series + 0.5);
  fmt::print("null series of {} nights, independent normal values, step alpha {}:\n", b.length,
             b.alpha);
  fmt::print(
      "  per series: {} of {} raised a change point: {:.2f} % (95 % upper bound {:.2f} %; target: "
      "at most {:.0f} %)\n",
      alarms, b.series, 100 * per_series,
      100 * evals::clopper_pearson_upper(alarms, b.series, 0.95), 100 * b.alpha);
  // Families: one night's report tests every series at once.
  evals::SplitMix rng{99};
  const int families = b.series / b.family;
  int family_alarms = 0;
  for (int f = 0; f < families; ++f) {
    std::vector<std::vector<double>> series(static_cast<size_t>(b.family));
    for (auto& x : series) {
      for (int i = 0; i < b.length; ++i) {
        const double u1 = 1.0 - static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
        const double u2 = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
        x.push_back(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
      }
    }
    auto oi = o;
    oi.seed = static_cast<uint64_t>(f) + 1;
    bool any = false;
    for (const auto& cps : evals::change_points_across(series, oi)) any |= !cps.empty();
    family_alarms += any;
  }
  fmt::print(
      "  per report of {} series (Benjamini-Hochberg across them): {} of {} reports raised any "
      "change point: "
      "{:.2f} % (95 % upper bound {:.2f} %; target: at most {:.0f} %)\n",
      b.family, family_alarms, families, 100.0 * family_alarms / families,
      100 * evals::clopper_pearson_upper(static_cast<uint64_t>(family_alarms),
                                         static_cast<uint64_t>(families), 0.95),
      100 * b.alpha);
}

}  // namespace

void add_bench_change_points_command(CLI::App* bench) {
  auto b = std::make_shared<ChangePointBench>();
  auto* cmd = bench->add_subcommand(
      "change-points",
      "false alarms of the nightly change-point search on series that never changed");
  cmd->add_option("--series", b->series)->capture_default_str();
  cmd->add_option("--length", b->length, "nights per series")->capture_default_str();
  cmd->add_option("--family", b->family, "series in one report")->capture_default_str();
  cmd->add_option("--alpha", b->alpha)->capture_default_str();
  cmd->callback([b] { run_change_point_bench(*b); });
}

}  // namespace hil::app
