// The one time model of the compare view: the frame index is the time. The
// controller owns the current frame, plays at the clip's frame rate and
// emits frame_changed(int); every pane (frame view, timeline, charts)
// follows it.
#pragma once

#include <QObject>
#include <QTimer>

namespace hil::viewer {

class PlaybackController : public QObject {
  Q_OBJECT

 public:
  explicit PlaybackController(QObject* parent = nullptr);

  // A new clip: pauses and goes to `frame` (clamped).
  void set_clip(int frame_count, double fps, int frame = 0);
  int frame() const { return frame_; }
  int frame_count() const { return frame_count_; }
  double fps() const { return fps_; }
  bool playing() const { return timer_.isActive(); }
  // The timer's period while playing (1000 / fps ms).
  int interval_ms() const { return timer_.interval(); }

 public slots:
  void set_frame(int frame);  // clamped to the clip
  void step(int frames);
  void play();
  void pause();
  void toggle_play();

 signals:
  void frame_changed(int frame);
  void playing_changed(bool playing);

 private:
  void advance();

  QTimer timer_;
  int frame_ = 0;
  int frame_count_ = 0;
  double fps_ = 30;
};

}  // namespace hil::viewer
