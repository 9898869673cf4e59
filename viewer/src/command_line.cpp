#include "command_line.h"

#include <QCommandLineParser>
#include <QCoreApplication>

namespace hil::viewer {

ParsedCommandLine parse_command_line(const QStringList& arguments) {
  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral(
      "Compare two network revisions clip by clip and frame by frame, and browse runs and\n"
      "their gate verdicts, in a hil results database (opened read-only; refreshed every\n"
      "2 s while a scheduler writes to it). Clip frames are read from <DB>.blobs/.\n\n"
      "Exit codes: 0 ok, 1 screenshot not written, 2 bad command line,\n"
      "3 database cannot be opened as hil results, 4 --run not in the database,\n"
      "5 --a, --b or --clip not in the database, or --camera not in the clip."));
  const QCommandLineOption help_option = parser.addHelpOption();
  const QCommandLineOption version_option = parser.addVersionOption();
  parser.addPositionalArgument(QStringLiteral("DB"),
                               QStringLiteral("The results database (hil.db) to open."),
                               QStringLiteral("[DB]"));
  const QCommandLineOption run_option(QStringLiteral("run"),
                                      QStringLiteral("Select run <ID> (default: the newest)."),
                                      QStringLiteral("ID"));
  const QCommandLineOption screenshot_option(
      QStringLiteral("screenshot"),
      QStringLiteral("Render the window (1200x800) to <PNG> and exit, without showing it."),
      QStringLiteral("PNG"));
  const QCommandLineOption a_option(
      QStringLiteral("a"), QStringLiteral("Revision A, the reference: a name or a hash (prefix)."),
      QStringLiteral("REV"));
  const QCommandLineOption b_option(
      QStringLiteral("b"),
      QStringLiteral("Revision B, compared with A: a name or a hash (prefix)."),
      QStringLiteral("REV"));
  const QCommandLineOption clip_option(QStringLiteral("clip"),
                                       QStringLiteral("Show the clip with this hash (or prefix)."),
                                       QStringLiteral("HASH"));
  const QCommandLineOption frame_option(QStringLiteral("frame"),
                                        QStringLiteral("Show frame <K> of the clip (from 0)."),
                                        QStringLiteral("K"));
  const QCommandLineOption mode_option(
      QStringLiteral("mode"), QStringLiteral("Frame view: side (A | B), overlay or flicker."),
      QStringLiteral("MODE"));
  const QCommandLineOption camera_option(
      QStringLiteral("camera"),
      QStringLiteral("Show this camera of the clip (its name), or all of them (default)."),
      QStringLiteral("NAME"));
  const QCommandLineOption tab_option(QStringLiteral("tab"),
                                      QStringLiteral("Show the compare or the runs tab."),
                                      QStringLiteral("TAB"));
  const QCommandLineOption size_option(
      QStringLiteral("size"), QStringLiteral("Window size for --screenshot (default 1200x800)."),
      QStringLiteral("WxH"));
  parser.addOption(run_option);
  parser.addOption(a_option);
  parser.addOption(b_option);
  parser.addOption(clip_option);
  parser.addOption(frame_option);
  parser.addOption(mode_option);
  parser.addOption(camera_option);
  parser.addOption(tab_option);
  parser.addOption(screenshot_option);
  parser.addOption(size_option);

  ParsedCommandLine result;
  if (!parser.parse(arguments)) {
    result.error = parser.errorText();
    return result;
  }
  if (parser.isSet(help_option)) {
    result.help_text = parser.helpText();
    return result;
  }
  if (parser.isSet(version_option)) {
    result.help_text = QStringLiteral("%1 %2\n").arg(QCoreApplication::applicationName(),
                                                     QCoreApplication::applicationVersion());
    return result;
  }
  const QStringList positional = parser.positionalArguments();
  if (positional.size() > 1) {
    result.error = QStringLiteral("expected at most one database, got %1: %2")
                       .arg(positional.size())
                       .arg(positional.join(QStringLiteral(", ")));
    return result;
  }
  if (!positional.isEmpty()) result.options.database = positional.front();
  if (parser.isSet(run_option)) {
    bool ok = false;
    const qlonglong id = parser.value(run_option).toLongLong(&ok);
    if (!ok || id <= 0) {
      result.error =
          QStringLiteral("--run expects a positive run id, got '%1'").arg(parser.value(run_option));
      return result;
    }
    result.options.run_id = id;
    result.options.view.run_id = id;
  }
  result.options.view.revision_a = parser.value(a_option);
  result.options.view.revision_b = parser.value(b_option);
  result.options.view.clip = parser.value(clip_option);
  if (parser.isSet(frame_option)) {
    bool ok = false;
    const int frame = parser.value(frame_option).toInt(&ok);
    if (!ok || frame < 0) {
      result.error = QStringLiteral("--frame expects a frame number (0 or more), got '%1'")
                         .arg(parser.value(frame_option));
      return result;
    }
    result.options.view.frame = frame;
  }
  if (parser.isSet(mode_option)) {
    result.options.view.mode = frame_mode_from_name(parser.value(mode_option));
    if (!result.options.view.mode) {
      result.error = QStringLiteral("--mode expects side, overlay or flicker, got '%1'")
                         .arg(parser.value(mode_option));
      return result;
    }
  }
  if (parser.isSet(camera_option)) {
    result.options.view.camera = parser.value(camera_option).trimmed();
    if (result.options.view.camera.isEmpty()) {
      result.error = QStringLiteral("--camera expects a camera's name or 'all'");
      return result;
    }
  }
  if (parser.isSet(tab_option)) {
    result.options.tab = parser.value(tab_option).toLower();
    if (result.options.tab != QLatin1String("compare") &&
        result.options.tab != QLatin1String("runs")) {
      result.error =
          QStringLiteral("--tab expects compare or runs, got '%1'").arg(parser.value(tab_option));
      return result;
    }
  }
  if (parser.isSet(size_option)) {
    const QStringList parts = parser.value(size_option).toLower().split(QLatin1Char('x'));
    bool w_ok = false, h_ok = false;
    const int w = parts.size() == 2 ? parts[0].toInt(&w_ok) : 0;
    const int h = parts.size() == 2 ? parts[1].toInt(&h_ok) : 0;
    if (!w_ok || !h_ok || w < 400 || h < 300 || w > 8000 || h > 8000) {
      result.error =
          QStringLiteral("--size expects WIDTHxHEIGHT between 400x300 and 8000x8000, got '%1'")
              .arg(parser.value(size_option));
      return result;
    }
    result.options.size = QSize(w, h);
  }
  const bool wants_view = !result.options.view.revision_a.isEmpty() ||
                          !result.options.view.revision_b.isEmpty() ||
                          !result.options.view.clip.isEmpty();
  if (wants_view && result.options.database.isEmpty()) {
    result.error = QStringLiteral("--a, --b and --clip need a database");
    return result;
  }
  result.options.screenshot = parser.value(screenshot_option);
  if (parser.isSet(screenshot_option) && result.options.screenshot.isEmpty()) {
    result.error = QStringLiteral("--screenshot expects a file name");
  }
  return result;
}

}  // namespace hil::viewer
