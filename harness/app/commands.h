// The `hil` command line: each file registers its subcommands with CLI11.
#pragma once

#include <CLI/CLI.hpp>

namespace hil::app {

// Exit codes, documented in the README.
inline constexpr int kExitPass = 0;
inline constexpr int kExitRegression = 1;
inline constexpr int kExitInconclusive = 2;
inline constexpr int kExitError = 3;
inline constexpr int kExitInvalid = 4;

void add_clips_commands(CLI::App& app);
void add_models_commands(CLI::App& app);
void add_dataset_command(CLI::App* models);  // hil models dataset
void add_eval_command(CLI::App& app);
void add_server_commands(CLI::App& app);
void add_gate_commands(CLI::App& app);
void add_calibration_commands(CLI::App* gate);  // hil gate calibrate | power
void add_db_commands(CLI::App& app);
void add_bench_commands(CLI::App& app);
void add_bench_clips_command(CLI::App* bench);          // hil bench clips
void add_bench_failover_command(CLI::App* bench);       // hil bench failover
void add_bench_change_points_command(CLI::App* bench);  // hil bench change-points
void add_sweep_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_rack_commands(CLI::App& app);  // hil rack slurm

// A subcommand's result; the dispatcher turns it into the process exit code.
int& exit_code();

}  // namespace hil::app
