// Renders a widget to a PNG without an event loop or a screen, for
// `hil-viewer --screenshot`, CI artefacts and tests.
#pragma once

#include <optional>

#include <QSize>
#include <QString>

class QWidget;

namespace hil::viewer {

// Lays `widget` out at `size` and writes it to `png_path`. Returns the error
// (naming the file) when the image cannot be written.
std::optional<QString> save_screenshot(QWidget& widget, QSize size, const QString& png_path);

}  // namespace hil::viewer
