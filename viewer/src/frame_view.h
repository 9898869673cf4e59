// The camera frame of the selected clip with overlays drawn in perspective:
// ground-truth lanes and cuboids (fully occluded objects dashed and dim),
// A's and B's predicted lanes, lead vehicles and steering, each toggleable.
// Modes: A | B side by side, A and B overlaid on one frame, and flicker (one
// revision at a time, F flips: the quickest way for an eye to see a change).
#pragma once

#include <optional>
#include <vector>

#include <QColor>
#include <QImage>
#include <QRectF>
#include <QString>
#include <QStringList>
#include <QWidget>

#include "eval_series.h"
#include "frame_overlay.h"
#include "timeline_markers.h"

class QPainter;

namespace hil::viewer {

class ClipFrames;

enum class FrameMode { kSideBySide = 1, kOverlay = 2, kFlicker = 3 };
// "side", "overlay", "flicker" (the --mode values).
const char* frame_mode_name(FrameMode mode);
std::optional<FrameMode> frame_mode_from_name(const QString& name);

class FrameView : public QWidget {
  Q_OBJECT

 public:
  // One drawn camera frame and what is drawn over it.
  struct Panel {
    QRectF target;     // where the frame lands, in widget coordinates
    double scale = 1;  // widget pixels per frame pixel
    QString title;
    QColor title_colour;
    std::vector<OverlayShape> shapes;  // in frame pixel coordinates
    QStringList captions;              // the values under the frame
    bool has_image = false;
    QString missing;  // why there is no image (frame not readable)
  };

  explicit FrameView(QWidget* parent = nullptr);

  // The clip whose frames are drawn (not owned; nullptr: none) and the
  // series of A and B (not owned; nullptr: that revision has no result).
  void set_clip(ClipFrames* clip);
  void set_series(const EvalSeries* a, const EvalSeries* b);
  void set_revision_names(const QString& a, const QString& b);
  // Shown instead of frames while there is no clip (why not).
  void set_message(const QString& message);

  int frame() const { return frame_; }
  FrameMode mode() const { return mode_; }
  const OverlayOptions& options() const { return options_; }
  Side flicker_side() const { return flicker_side_; }

  // The panels as drawn at `size` (the widget's size by default).
  std::vector<Panel> panels(std::optional<QSize> size = std::nullopt) const;
  // The view rendered off-screen (PNG export).
  QImage render(QSize size) const;

  QSize sizeHint() const override { return {640, 300}; }

 public slots:
  void set_frame(int frame);
  void set_mode(FrameMode mode);
  void set_options(const OverlayOptions& options);
  void flip_flicker_side();

 signals:
  void mode_changed(FrameMode mode);

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  void paint(QPainter& painter, QSize size) const;
  void draw_panel(QPainter& painter, const Panel& panel) const;
  QStringList captions_for(Side side) const;

  ClipFrames* clip_ = nullptr;
  const EvalSeries* series_[2] = {nullptr, nullptr};
  QString names_[2] = {QStringLiteral("A"), QStringLiteral("B")};
  QString message_ = QStringLiteral("Select a clip");
  int frame_ = 0;
  FrameMode mode_ = FrameMode::kSideBySide;
  OverlayOptions options_;
  Side flicker_side_ = Side::kA;
};

}  // namespace hil::viewer
