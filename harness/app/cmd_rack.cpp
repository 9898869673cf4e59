// `hil rack slurm`: an emulated rack as a Slurm job array. Each array task
// runs `hil agent` with its share of the boards, connected to `hil serve`;
// Slurm's SIGTERM (scancel, or the time limit's warning signal) drains the
// agent: it finishes the evals in hand, takes no more and says goodbye, and
// the scheduler re-queues whatever a killed agent still held when its lease
// expires. docs/deployment.md walks through it.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "hil/evals/log.h"
#include "hil/evals/sha256.h"

namespace hil::app {
namespace {

struct SlurmRackArgs {
  SchedulerAddress at;
  uint32_t boards = 0;
  uint32_t boards_per_task = 4;
  uint32_t cpus_per_task = 1;
  std::string board_type = "slowed-hw3";
  std::string job_name = "hil-rack";
  std::string partition;
  std::string time_limit;  // Slurm's --time, e.g. 8:00:00; empty: the partition's
  std::filesystem::path script = "hil-rack.sbatch";
  std::filesystem::path log_dir = ".";
  std::filesystem::path cache = "hil-rack-cache";
  std::filesystem::path hil_binary;  // empty: this executable
  std::string sbatch = "sbatch";
  bool no_submit = false;
};

// Single-quoted for bash: the value as one word, whatever it holds.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The batch script: one array task per `boards_per_task` boards (the last
// task takes the rest). `exec` makes the agent the batch step's process, so
// Slurm's signals reach it; --signal asks for SIGTERM two minutes before the
// time limit, time enough to drain.
std::string slurm_script(const SlurmRackArgs& a, const std::filesystem::path& hil) {
  const uint32_t tasks = (a.boards + a.boards_per_task - 1) / a.boards_per_task;
  std::string s = "#!/bin/bash\n";
  s += fmt::format(
      "# Written by `hil rack slurm`: an emulated rack of {} boards of type {}, {} per task,\n"
      "# {} array tasks, each a `hil agent` connected to {}. The rack secret comes\n"
      "# from HIL_SECRET in the submitting environment (sbatch exports it).\n",
      a.boards, a.board_type, a.boards_per_task, tasks, a.at.scheduler);
  s += fmt::format("#SBATCH --job-name={}\n", a.job_name);
  s += fmt::format("#SBATCH --array=0-{}\n", tasks - 1);
  s += "#SBATCH --ntasks=1\n";
  s += fmt::format("#SBATCH --cpus-per-task={}\n", a.cpus_per_task);
  s += fmt::format("#SBATCH --output={}/%x-%A_%a.log\n",
                   std::filesystem::absolute(a.log_dir).lexically_normal().string());
  s += "#SBATCH --signal=B:TERM@120\n";
  if (!a.partition.empty()) s += fmt::format("#SBATCH --partition={}\n", a.partition);
  if (!a.time_limit.empty()) s += fmt::format("#SBATCH --time={}\n", a.time_limit);
  s += "set -euo pipefail\n";
  s += fmt::format("first=$(( SLURM_ARRAY_TASK_ID * {} ))\n", a.boards_per_task);
  s += fmt::format("boards=$(( {} - first ))\n", a.boards);
  s += fmt::format("if [ \"$boards\" -gt {0} ]; then boards={0}; fi\n", a.boards_per_task);
  std::string cmd = fmt::format(
      "exec {} agent --scheduler {} --emulate \"$boards\" --board-type {} "
      "--name {}-\"$SLURM_ARRAY_JOB_ID\"-\"$SLURM_ARRAY_TASK_ID\" --threads {} "
      "--cache {}/task-\"$SLURM_ARRAY_TASK_ID\"",
      shell_quote(hil.string()), shell_quote(a.at.scheduler), shell_quote(a.board_type),
      shell_quote(a.job_name), a.cpus_per_task,
      shell_quote(std::filesystem::absolute(a.cache).string()));
  const auto& t = a.at.tls;
  if (!t.dir.empty()) cmd += " --tls " + shell_quote(std::filesystem::absolute(t.dir).string());
  if (!t.cert.empty())
    cmd += " --tls-cert " + shell_quote(std::filesystem::absolute(t.cert).string());
  if (!t.key.empty()) cmd += " --tls-key " + shell_quote(std::filesystem::absolute(t.key).string());
  if (!t.ca.empty()) cmd += " --tls-ca " + shell_quote(std::filesystem::absolute(t.ca).string());
  if (t.plaintext) cmd += " --plaintext";
  return s + cmd + "\n";
}

int submit_slurm_rack(const SlurmRackArgs& a) {
  if (a.boards == 0) throw std::invalid_argument("--boards: at least one board is needed");
  if (a.boards_per_task == 0)
    throw std::invalid_argument("--boards-per-task: at least one board per task");
  if (a.cpus_per_task == 0) throw std::invalid_argument("--cpus-per-task: at least one");
  if (a.at.scheduler.find(':') == std::string::npos)
    throw std::invalid_argument(
        fmt::format("--scheduler '{}': expected HOST:PORT of `hil serve`", a.at.scheduler));
  const auto hil = a.hil_binary.empty() ? std::filesystem::read_symlink("/proc/self/exe")
                                        : std::filesystem::absolute(a.hil_binary);
  evals::write_file_atomic(a.script, slurm_script(a, hil));
  std::filesystem::permissions(a.script, std::filesystem::perms::owner_exec,
                               std::filesystem::perm_options::add);
  const uint32_t tasks = (a.boards + a.boards_per_task - 1) / a.boards_per_task;
  if (a.no_submit) {
    fmt::print("wrote {} ({} array tasks of up to {} boards); submit it with: sbatch {}\n",
               a.script.string(), tasks, a.boards_per_task, a.script.string());
    return kExitPass;
  }
  // The secret travels in the environment sbatch exports, never in argv.
  if (!a.at.secret.empty()) ::setenv("HIL_SECRET", a.at.secret.c_str(), 1);
  if (!std::getenv("HIL_SECRET"))
    throw std::invalid_argument("--secret (or HIL_SECRET): the agents need the rack secret");
  const std::string command =
      fmt::format("{} --parsable {}", shell_quote(a.sbatch), shell_quote(a.script.string()));
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) throw std::runtime_error(fmt::format("cannot run {}", a.sbatch));
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, pipe.get())) out += buf;
  const int status = ::pclose(pipe.release());
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (status != 0 || out.empty()) {
    log::error("rack", "{} refused {} (status {}): {}", a.sbatch, a.script.string(), status, out);
    return kExitError;
  }
  // --parsable prints "jobid" or "jobid;cluster".
  const std::string job = out.substr(0, out.find(';'));
  fmt::print("submitted job {}: {} array tasks, {} boards -> {} (cancel one task: scancel {}_0)\n",
             job, tasks, a.boards, a.at.scheduler, job);
  return kExitPass;
}

}  // namespace

void add_rack_commands(CLI::App& app) {
  auto* rack = app.add_subcommand("rack", "start emulated racks on a cluster's scheduler")
                   ->require_subcommand(1);
  auto a = std::make_shared<SlurmRackArgs>();
  auto* slurm = rack->add_subcommand(
      "slurm", "write a Slurm job array of `hil agent` tasks and submit it (docs/deployment.md)");
  add_scheduler_flags(slurm, a->at, "HOST:PORT of `hil serve`, as the cluster's nodes reach it");
  slurm->add_option("--boards", a->boards, "emulated boards in the rack")->required();
  slurm->add_option("--boards-per-task", a->boards_per_task, "boards per array task (one agent)")
      ->capture_default_str();
  slurm->add_option("--cpus-per-task", a->cpus_per_task, "cores per task (the agent's threads)")
      ->capture_default_str();
  slurm->add_option("--board-type", a->board_type)->capture_default_str();
  slurm->add_option("--job-name", a->job_name)->capture_default_str();
  slurm->add_option("--partition", a->partition, "Slurm partition (default: the cluster's)");
  slurm->add_option("--time", a->time_limit, "Slurm time limit, e.g. 8:00:00");
  slurm->add_option("--script", a->script, "where to write the batch script")
      ->capture_default_str();
  slurm->add_option("--log-dir", a->log_dir, "where the tasks write their logs")
      ->capture_default_str();
  slurm->add_option("--cache", a->cache, "blob cache folder on the nodes (one per task inside)")
      ->capture_default_str();
  slurm->add_option("--hil", a->hil_binary, "the hil executable on the nodes (default: this one)");
  slurm->add_option("--sbatch", a->sbatch, "the sbatch command")->capture_default_str();
  slurm->add_flag("--no-submit", a->no_submit, "write the script only");
  slurm->callback([a] { exit_code() = submit_slurm_rack(*a); });
}

}  // namespace hil::app
