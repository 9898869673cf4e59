#include "viewer_app.h"

#include <cstdio>

#include <QApplication>
#include <QFont>
#include <QMessageBox>
#include <QSettings>
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
  MainWindow window(nullptr, /*restore=*/false);  // the same view whatever the last session was
  if (!options.database.isEmpty()) {
    QStringList problems;
    if (auto error = window.open_database(options.database, options.view, &problems)) {
      print_error(*error);
      return kExitCannotOpenDatabase;
    }
    const bool run_missing = options.run_id && !window.select_run(*options.run_id);
    if (!problems.isEmpty() && !run_missing) {
      print_error(QStringLiteral("%1: %2").arg(window.database_path(),
                                               problems.join(QStringLiteral("; "))));
      return kExitNoSuchView;
    }
  }
  window.show_tab(options.tab == QLatin1String("runs") ? MainWindow::kRunsTab
                                                       : MainWindow::kCompareTab);
  if (options.run_id && !window.select_run(*options.run_id)) {
    print_error(QStringLiteral("%1: no run %2 among the newest runs")
                    .arg(window.database_path())
                    .arg(*options.run_id));
    return kExitNoSuchRun;
  }
  const QSize size = options.size.isValid() ? options.size : kScreenshotSize;
  if (auto error = save_screenshot(window, size, options.screenshot)) {
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
  // The last session's size and place, unless none or --size was given.
  if (options.size.isValid() || !QSettings().contains(QStringLiteral("window/geometry"))) {
    window.resize(options.size.isValid() ? options.size : kScreenshotSize);
  }
  window.show();
  if (!options.database.isEmpty())
    window.open_database_interactively(options.database, options.view);
  if (options.tab == QLatin1String("runs")) window.show_tab(MainWindow::kRunsTab);
  if (options.tab == QLatin1String("compare")) window.show_tab(MainWindow::kCompareTab);
  if (options.run_id && !window.database_path().isEmpty() && !window.select_run(*options.run_id)) {
    QMessageBox::warning(&window, QStringLiteral("No such run"),
                         QStringLiteral("%1 lists no run %2 among its newest runs.")
                             .arg(window.database_path())
                             .arg(*options.run_id));
  }
  return app.exec();
}

}  // namespace hil::viewer
