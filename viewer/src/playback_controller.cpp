#include "playback_controller.h"

#include <algorithm>
#include <cmath>

namespace hil::viewer {

PlaybackController::PlaybackController(QObject* parent) : QObject(parent) {
  timer_.setTimerType(Qt::PreciseTimer);
  connect(&timer_, &QTimer::timeout, this, &PlaybackController::advance);
}

void PlaybackController::set_clip(int frame_count, double fps, int frame) {
  pause();
  frame_count_ = std::max(frame_count, 0);
  fps_ = fps > 0 ? fps : 30;
  timer_.setInterval(std::max(1, static_cast<int>(std::lround(1000.0 / fps_))));
  frame_ = -1;  // always announce the clip's first shown frame
  set_frame(frame);
}

void PlaybackController::set_frame(int frame) {
  const int clamped = frame_count_ > 0 ? std::clamp(frame, 0, frame_count_ - 1) : 0;
  if (clamped == frame_) return;
  frame_ = clamped;
  emit frame_changed(frame_);
}

void PlaybackController::step(int frames) {
  pause();
  set_frame(frame_ + frames);
}

void PlaybackController::play() {
  if (frame_count_ <= 1 || timer_.isActive()) return;
  if (frame_ >= frame_count_ - 1) set_frame(0);  // play again from the start
  timer_.start();
  emit playing_changed(true);
}

void PlaybackController::pause() {
  if (!timer_.isActive()) return;
  timer_.stop();
  emit playing_changed(false);
}

void PlaybackController::toggle_play() { playing() ? pause() : play(); }

void PlaybackController::advance() {
  set_frame(frame_ + 1);
  if (frame_ >= frame_count_ - 1) pause();
}

}  // namespace hil::viewer
