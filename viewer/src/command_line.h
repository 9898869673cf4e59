// hil-viewer's command line:
//   hil-viewer [DB] [--a REV --b REV] [--run ID] [--clip HASH] [--frame K]
//              [--mode side|overlay|flicker] [--camera NAME|all] [--tab compare|runs]
//              [--screenshot out.png [--size WxH]]
#pragma once

#include <cstdint>
#include <optional>

#include <QSize>
#include <QString>
#include <QStringList>

#include "view_state.h"

namespace hil::viewer {

// Process exit codes, also listed in --help.
enum ExitCode : int {
  kExitOk = 0,
  kExitScreenshotNotWritten = 1,
  kExitUsage = 2,
  kExitCannotOpenDatabase = 3,
  kExitNoSuchRun = 4,
  kExitNoSuchView = 5,  // --a, --b, --clip or --camera not in the database or clip
};

struct ViewerOptions {
  QString database;               // empty: start without a database
  std::optional<int64_t> run_id;  // empty: select the newest run
  QString screenshot;             // non-empty: render the window to this PNG and exit
  QSize size;                     // --size; invalid: the default
  QString tab;                    // "compare", "runs" or empty (compare, or the last one)
  ViewRequest view;               // --a, --b, --run, --clip, --frame, --mode, --camera
};

struct ParsedCommandLine {
  ViewerOptions options;
  QString error;      // non-empty: malformed command line, says which argument
  QString help_text;  // non-empty: --help or --version was asked for; print it and exit
};

// `arguments` as QCoreApplication::arguments() gives them (program first).
ParsedCommandLine parse_command_line(const QStringList& arguments);

}  // namespace hil::viewer
