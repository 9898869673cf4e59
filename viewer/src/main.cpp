// hil-viewer: browse runs and gate verdicts of a hil results database.
#include <QApplication>

#include "viewer_app.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("hil"));
  QApplication::setApplicationName(QStringLiteral("hil-viewer"));
  QApplication::setApplicationVersion(QStringLiteral(HIL_VERSION));
  return hil::viewer::run_viewer(app);
}
