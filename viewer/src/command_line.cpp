#include "command_line.h"

#include <QCommandLineParser>
#include <QCoreApplication>

namespace hil::viewer {

ParsedCommandLine parse_command_line(const QStringList& arguments) {
  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral(
      "Browse hil runs and their gate verdicts in a results database (opened read-only;\n"
      "refreshed every 2 s while a scheduler writes to it).\n\n"
      "Exit codes: 0 ok, 1 screenshot not written, 2 bad command line,\n"
      "3 database cannot be opened as hil results, 4 --run not in the database."));
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
  parser.addOption(run_option);
  parser.addOption(screenshot_option);

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
  }
  result.options.screenshot = parser.value(screenshot_option);
  if (parser.isSet(screenshot_option) && result.options.screenshot.isEmpty()) {
    result.error = QStringLiteral("--screenshot expects a file name");
  }
  return result;
}

}  // namespace hil::viewer
