// hil: the command line of the hardware-in-the-loop harness.
#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "commands.h"
#include "hil/evals/log.h"

namespace hil::app {
int& exit_code() {
  static int code = 0;
  return code;
}
}  // namespace hil::app

int main(int argc, char** argv) {
  CLI::App app{
      "hil: hardware-in-the-loop evaluation and regression harness for self-driving networks"};
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log", log_level, "log level: debug, info, warn, error, off")
      ->capture_default_str();
  app.parse_complete_callback([&] { hil::log::set_level(hil::log::parse_level(log_level)); });
  hil::app::add_clips_commands(app);
  hil::app::add_models_commands(app);
  hil::app::add_eval_command(app);
  hil::app::add_server_commands(app);
  hil::app::add_gate_commands(app);
  hil::app::add_db_commands(app);
  hil::app::add_bench_commands(app);
  hil::app::add_sweep_command(app);
  hil::app::add_report_command(app);
  hil::app::add_rack_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : hil::app::kExitError;
  } catch (const std::exception& e) {
    fmt::print(stderr, "hil: error: {}\n", e.what());
    return hil::app::kExitError;
  }
  return hil::app::exit_code();
}
