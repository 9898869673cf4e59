// A terminal progress bar with rate and ETA; plain lines when not a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace hil::harness {

class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t total);
  void set_total(uint64_t total) { total_ = total; }
  void update(uint64_t done, const std::string& note = "");
  void finish();
  bool interactive() const { return interactive_; }

 private:
  std::string label_;
  uint64_t total_;
  bool interactive_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
  uint64_t last_printed_ = 0;
};

}  // namespace hil::harness
