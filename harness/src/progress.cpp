#include "hil/harness/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace hil::harness {

ProgressBar::ProgressBar(std::string label, uint64_t total)
    : label_(std::move(label)),
      total_(total),
      interactive_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void ProgressBar::update(uint64_t done, const std::string& note) {
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double since = std::chrono::duration<double>(now - last_).count();
  bool complete = total_ && done >= total_;
  // Throttle: a terminal redraws at most 10 times a second; logs get a line every 5 s.
  if (!complete && since < (interactive_ ? 0.1 : 5.0)) return;
  if (!interactive_ && done == last_printed_ && !complete) return;
  last_ = now;
  last_printed_ = done;
  double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  double eta = rate > 0 && total_ > done ? static_cast<double>(total_ - done) / rate : 0;
  if (interactive_) {
    int width = 30;
    int filled =
        total_ ? static_cast<int>(width * std::min<double>(1.0, static_cast<double>(done) / total_))
               : 0;
    fmt::print(stderr, "\r{} [{}{}] {}/{} {:.1f}/s ETA {:.0f}s {}\x1b[K", label_,
               std::string(filled, '#'), std::string(width - filled, '.'), done, total_, rate, eta,
               note);
  } else {
    fmt::print(stderr, "{}: {}/{} ({:.1f}/s, ETA {:.0f}s) {}\n", label_, done, total_, rate, eta,
               note);
  }
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (interactive_) fmt::print(stderr, "\n");
}

}  // namespace hil::harness
