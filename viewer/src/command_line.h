// hil-viewer's command line:  hil-viewer [DB] [--run ID] [--screenshot out.png]
#pragma once

#include <cstdint>
#include <optional>

#include <QString>
#include <QStringList>

namespace hil::viewer {

// Process exit codes, also listed in --help.
enum ExitCode : int {
  kExitOk = 0,
  kExitScreenshotNotWritten = 1,
  kExitUsage = 2,
  kExitCannotOpenDatabase = 3,
  kExitNoSuchRun = 4,
};

struct ViewerOptions {
  QString database;               // empty: start without a database
  std::optional<int64_t> run_id;  // empty: select the newest run
  QString screenshot;             // non-empty: render the window to this PNG and exit
};

struct ParsedCommandLine {
  ViewerOptions options;
  QString error;      // non-empty: malformed command line, says which argument
  QString help_text;  // non-empty: --help or --version was asked for; print it and exit
};

// `arguments` as QCoreApplication::arguments() gives them (program first).
ParsedCommandLine parse_command_line(const QStringList& arguments);

}  // namespace hil::viewer
