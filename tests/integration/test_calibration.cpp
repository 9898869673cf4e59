// hil gate calibrate and hil gate power on a small suite of the small sample
// networks: the tables they print hold to rates the test works out itself.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures.h"
#include "hil/evals/sha256.h"
#include "process.h"

using namespace hil;

namespace {

std::string run(const std::vector<std::string>& argv, int* rc) {
  test::Process p(argv);
  auto out = p.read_all();
  *rc = p.wait();
  return out;
}

// The whitespace-separated fields of the first line starting with `metric`
// whose second field is `label`.
std::vector<std::string> row(const std::string& table, const std::string& metric,
                             const std::string& label) {
  std::istringstream lines(table);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    if (f.size() >= 2 && f[0] == metric && f[1] == label) return f;
  }
  return {};
}

double percent(const std::string& field) {
  return std::stod(field.substr(0, field.size() - 1)) / 100;
}

struct Setup {
  test::TempDir dir;
  std::string hil = test::hil_binary().string();
  std::filesystem::path suite = dir / "small.textproto";
  std::filesystem::path a = dir / "base-s1.onnx", b = dir / "base-s2.onnx";
  Setup() {
    evals::write_file_atomic(a, test::tiny_revision("base", 1));
    evals::write_file_atomic(b, test::tiny_revision("base", 2));
    std::ofstream s(suite);
    s << "name: \"small\"\nboard_type: \"slowed-hw3\"\n"
      << "clips { generated { count: 8 frames: 8 seed: 900 conditions: [\"clear\", \"night\"] } }\n"
      << "scenarios { name: \"split\" mode: \"split\" }\n"
      << test::kSampleMetrics
      << "gates { metric: \"steering_mae\" max_abs_degradation: 0.002 min_clips: 4 blocking: true "
         "}\n"
      << "bootstrap_resamples: 500\nbootstrap_seed: 3\n";
  }
  std::vector<std::string> args(const std::string& what) const {
    return {hil,
            "gate",
            what,
            "--suite",
            suite.string(),
            "--revision",
            a.string(),
            "--revision",
            b.string(),
            "--pool-scale",
            "2",
            "--runs",
            "30",
            "--threads",
            "1",
            "--clip-cache",
            (dir / "clips").string()};
  }
};

}  // namespace

TEST_CASE(
    "calibration: one revision evaluated twice never fails, and the bound is Clopper-Pearson's",
    "[integration][calibration]") {
  Setup s;
  int rc = -1;
  const auto out = run(s.args("calibrate"), &rc);
  INFO(out);
  REQUIRE(rc == 0);
  const auto same = row(out, "steering_mae", "same");  // "same rev": the label's first word
  REQUIRE(same.size() >= 9);
  // Separate evals of one revision on emulated boards are bit-identical, so
  // every interval is [0, 0]: all 30 runs pass.
  CHECK(same[3] == "30");
  CHECK(percent(same[4]) == Approx(1.0));
  CHECK(percent(same[6]) == Approx(0.0));
  // 0 fails in 30: the one-sided 95 % bound solves (1 - p)^30 = 0.05.
  CHECK(percent(same[7]) == Approx(1 - std::pow(0.05, 1.0 / 30)).margin(0.001));
  // Two seeds give two ordered pairs of 30 runs each.
  const auto seeds = row(out, "steering_mae", "seeds");
  REQUIRE(seeds.size() >= 9);
  CHECK(seeds[2] == "60");
  CHECK(percent(seeds[3]) + percent(seeds[4]) + percent(seeds[5]) == Approx(1.0).margin(0.002));
}

TEST_CASE(
    "power: the share caught grows with the injected steering error, and eight margins are caught",
    "[integration][calibration]") {
  Setup s;
  int rc = -1;
  const auto out = run(s.args("power"), &rc);
  INFO(out);
  REQUIRE(rc == 0);
  // Sizes are 0.5, 1, 2, 4, 8 and 16 margins (0.002): each frame's steering is
  // pushed that much further from the truth, so every clip's mean absolute
  // error grows by exactly the size, and so does every resample's mean: in
  // each run (the same clips and bootstrap seed at every size) the interval
  // only moves up as the size grows, so the share caught can only grow.
  // 0.016 is eight margins, beyond any interval of these clips.
  std::istringstream lines(out);
  std::map<std::string, double> caught;  // size -> rate, every clip degraded
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("steering_mae", 0) != 0 || line.find("all clips") == std::string::npos) continue;
    if (line.find('%') == std::string::npos || line.find("smallest") != std::string::npos) continue;
    std::istringstream f(line);
    std::vector<std::string> w;
    for (std::string x; f >> x;) w.push_back(x);
    caught[w[w.size() - 2]] = percent(w.back());
  }
  const std::vector<std::string> sizes = {"0.001", "0.002", "0.004", "0.008", "0.016", "0.032"};
  for (const auto& size : sizes) REQUIRE(caught.count(size));
  for (size_t k = 1; k < sizes.size(); ++k) CHECK(caught[sizes[k]] >= caught[sizes[k - 1]]);
  CHECK(caught["0.016"] >= 0.95);
}
