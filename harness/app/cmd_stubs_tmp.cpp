#include "commands.h"
namespace hil::app {
void add_server_commands(CLI::App&) {}
void add_gate_commands(CLI::App&) {}
void add_db_commands(CLI::App&) {}
}
