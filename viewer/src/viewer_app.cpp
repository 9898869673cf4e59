#include "viewer_app.h"

#include <cstdio>

#include <QApplication>
#include <QFont>
#include <QMessageBox>
#include <QStatusBar>

#include <fmt/format.h>

#include "command_line.h"
#include "main_window.h"
#include "screenshot.h"

namespace hil::viewer {
namespace {

void print_error(const QString& message) {
  fmt::print(stderr, "hil-viewer: {}\n", message.toStdString());
}

int take_screenshot(const ViewerOptions& options) {
  // A pinned font keeps screenshots comparable between machines (DejaVu Sans
  // ships with Debian's fontconfig; Qt falls back if it is missing).
  QApplication::setFont(QFont(QStringLiteral("DejaVu Sans"), 9));
  MainWindow window;
  if (!options.database.isEmpty()) {
    if (auto error = window.open_database(options.database)) {
      print_error(*error);
      return kExitCannotOpenDatabase;
    }
  }
  if (options.run_id && !window.select_run(*options.run_id)) {
    print_error(QStringLiteral("%1: no run %2 among the newest runs")
                    .arg(window.database_path())
                    .arg(*options.run_id));
    return kExitNoSuchRun;
  }
  if (auto error = save_screenshot(window, kScreenshotSize, options.screenshot)) {
    print_error(*error);
    return kExitScreenshotNotWritten;
  }
  return kExitOk;
}

}  // namespace

int run_viewer(QApplication& app) {
  const ParsedCommandLine parsed = parse_command_line(app.arguments());
  if (!parsed.help_text.isEmpty()) {
    fmt::print("{}", parsed.help_text.toStdString());
    return kExitOk;
  }
  if (!parsed.error.isEmpty()) {
    print_error(parsed.error + QStringLiteral(" (see --help)"));
    return kExitUsage;
  }
  const ViewerOptions& options = parsed.options;
  if (!options.screenshot.isEmpty()) return take_screenshot(options);

  MainWindow window;
  window.resize(kScreenshotSize);
  window.show();
  if (!options.database.isEmpty()) window.open_database_interactively(options.database);
  if (options.run_id && !window.database_path().isEmpty() && !window.select_run(*options.run_id)) {
    QMessageBox::warning(&window, QStringLiteral("No such run"),
                         QStringLiteral("%1 lists no run %2 among its newest runs.")
                             .arg(window.database_path())
                             .arg(*options.run_id));
  }
  return app.exec();
}

}  // namespace hil::viewer
