// The chart pane behind an interface of our own: Qt Charts is deprecated from
// Qt 6.10 (Qt Graphs replaces it, for Qt Quick only), so the window must not
// depend on it. Swapping the backend means one new implementation of this
// class and a different create_margin_chart().
#pragma once

#include <vector>

#include <QString>
#include <QWidget>

#include "margin_bars.h"

namespace hil::viewer {

class MarginChart : public QWidget {
 public:
  using QWidget::QWidget;

  // Replaces what is shown with `bars` (one per blocking metric) under `title`.
  virtual void show_bars(const QString& title, const std::vector<MarginBar>& bars) = 0;
  // Shows no bars, only `message` (no run selected, run not gated yet).
  virtual void show_message(const QString& message) = 0;
  // What show_bars() last received (empty after show_message()): lets tests
  // and callers check the content without knowing the backend.
  virtual const std::vector<MarginBar>& shown_bars() const = 0;
};

// The current backend (Qt Charts), owned by `parent` like any child widget.
MarginChart* create_margin_chart(QWidget* parent);

}  // namespace hil::viewer
