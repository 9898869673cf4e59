// The selected clip's frame, every camera of it, with overlays drawn in
// perspective on each: ground truth (lanes, cuboids, 2D boxes; fully
// occluded objects dashed and dim) and A's and B's decoded outputs (lanes,
// detections, lead vehicles, steering), each category toggleable.
// Modes: A | B side by side, A and B overlaid on one frame, and flicker (one
// revision at a time, F flips: the quickest way for an eye to see a change).
// Each panel shows a grid of the clip's cameras (left to right by where
// they look), or the one camera picked (C cycles, 0 shows them all); the
// steering needles go on the camera looking most straight ahead.
#pragma once

#include <optional>
#include <vector>

#include <QColor>
#include <QImage>
#include <QRectF>
#include <QString>
#include <QStringList>
#include <QWidget>

#include "eval_outputs.h"
#include "frame_overlay.h"
#include "timeline_markers.h"

class QPainter;

namespace hil::viewer {

class ClipFrames;

enum class FrameMode { kSideBySide = 1, kOverlay = 2, kFlicker = 3 };
// "side", "overlay", "flicker" (the --mode values).
const char* frame_mode_name(FrameMode mode);
std::optional<FrameMode> frame_mode_from_name(const QString& name);

// kAllCameras: every camera of the clip in a grid.
inline constexpr int kAllCameras = -1;

class FrameView : public QWidget {
  Q_OBJECT

 public:
  // One camera's image in a panel and what is drawn over it.
  struct CameraCell {
    int camera = 0;  // index into the clip header's cameras
    QString name;
    QRectF target;                     // where the image lands, in widget coordinates
    double scale = 1;                  // widget pixels per image pixel
    std::vector<OverlayShape> shapes;  // in the camera's pixel coordinates
    bool has_image = false;
    QString missing;  // why there is no image (frame or camera image not readable)
  };
  // One revision (or both, overlaid) over every camera shown.
  struct Panel {
    QRectF bounds;  // title, cameras and captions, in widget coordinates
    QString title;
    QColor title_colour;
    std::vector<Side> sides;        // whose outputs the panel draws
    std::vector<CameraCell> cells;  // in grid order (left to right, top to bottom)
    QStringList captions;           // the values under the cameras
    // The cell of camera `camera` (header index), or nullptr.
    const CameraCell* cell(int camera) const;
  };

  explicit FrameView(QWidget* parent = nullptr);

  // The clip whose frames are drawn (not owned; nullptr: none) and the
  // results of A and B on it (not owned; nullptr: that revision has none).
  void set_clip(ClipFrames* clip);
  void set_results(const EvalResults* a, const EvalResults* b);
  void set_revision_names(const QString& a, const QString& b);
  // Shown instead of frames while there is no clip (why not).
  void set_message(const QString& message);

  int frame() const { return frame_; }
  FrameMode mode() const { return mode_; }
  const OverlayOptions& options() const { return options_; }
  Side flicker_side() const { return flicker_side_; }
  // The camera picked (an index of the clip's header), or kAllCameras
  // (also when the pick is past the clip's cameras).
  int camera() const;
  // The cameras drawn, as header indices in grid order.
  std::vector<int> shown_cameras() const;

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
  // kAllCameras or a header index; an index the clip lacks shows them all.
  void set_camera(int camera);
  // All cameras, then each in header order, then all again (step -1: back).
  void cycle_camera(int step = 1);

 signals:
  void mode_changed(FrameMode mode);
  void camera_changed(int camera);

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  void paint(QPainter& painter, QSize size) const;
  void draw_panel(QPainter& painter, const Panel& panel) const;
  void draw_cell(QPainter& painter, const CameraCell& cell) const;
  QStringList captions_for(Side side) const;
  const EvalResults* results(Side side) const { return results_[static_cast<int>(side)]; }

  ClipFrames* clip_ = nullptr;
  const EvalResults* results_[2] = {nullptr, nullptr};
  QString names_[2] = {QStringLiteral("A"), QStringLiteral("B")};
  QString message_ = QStringLiteral("Select a clip");
  int frame_ = 0;
  int camera_ = kAllCameras;
  FrameMode mode_ = FrameMode::kSideBySide;
  OverlayOptions options_;
  Side flicker_side_ = Side::kA;
};

}  // namespace hil::viewer
