// What `hil-viewer` does with its command line: open the window, or render
// it to a PNG and exit. Apart from main() so tests can drive it.
#pragma once

#include <QSize>

class QApplication;

namespace hil::viewer {

// The size --screenshot renders at, fixed so images compare across machines.
inline constexpr QSize kScreenshotSize{1200, 800};

// Runs hil-viewer with `app`'s arguments; returns the process exit code
// (ExitCode in command_line.h). Runs the event loop unless --screenshot.
int run_viewer(QApplication& app);

}  // namespace hil::viewer
