#include "screenshot.h"

#include <QCoreApplication>
#include <QPixmap>
#include <QWidget>

namespace hil::viewer {

std::optional<QString> save_screenshot(QWidget& widget, QSize size, const QString& png_path) {
  // Shown but never on screen: layouts, the chart's scene and style polish
  // only settle for a visible widget, and a desktop user running
  // --screenshot should not see a window flash.
  if (!widget.isVisible()) widget.setAttribute(Qt::WA_DontShowOnScreen, true);
  widget.resize(size);
  widget.show();
  QCoreApplication::processEvents();
  const QPixmap pixmap = widget.grab();
  if (pixmap.isNull() || !pixmap.save(png_path, "PNG")) {
    return QStringLiteral("%1: cannot write the screenshot (is the folder there and writable?)")
        .arg(png_path);
  }
  return std::nullopt;
}

}  // namespace hil::viewer
