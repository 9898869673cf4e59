#include "hil/evals/clip_generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "hil/evals/camera.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/sha256.h"

namespace hil::evals {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kLaneWidth = 3.6;
constexpr double kWheelbase = 2.8;
constexpr double kCameraHeight = 1.4;
constexpr double kRoadStep = 0.5;  // metres per sample of the road profile

// splitmix64: small, fast, and identical on every platform (unlike the
// standard distributions, whose output is implementation-defined).
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int index(size_t n) { return static_cast<int>(next() % n); }
};

// Cheap stateless hash noise for per-pixel texture and sensor noise.
inline uint32_t hash3(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t h = a * 0x8da6b343u ^ b * 0xd8163841u ^ c * 0xcb1ab31fu;
  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  return h;
}
inline double hash_unit(uint32_t a, uint32_t b, uint32_t c) {
  return (hash3(a, b, c) & 0xffffff) / 16777216.0;
}

// Smooth value noise in [0, 1): hashed lattice values, smoothstep-interpolated,
// for snow patches and wet sheen that have no hard grid edges.
inline double value_noise(double x, double y, uint32_t salt) {
  double fx = std::floor(x), fy = std::floor(y);
  auto ix = static_cast<uint32_t>(static_cast<int64_t>(fx) + (1 << 20));
  auto iy = static_cast<uint32_t>(static_cast<int64_t>(fy) + (1 << 20));
  double tx = x - fx, ty = y - fy;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  double a = hash_unit(ix, iy, salt), b = hash_unit(ix + 1, iy, salt);
  double c = hash_unit(ix, iy + 1, salt), d = hash_unit(ix + 1, iy + 1, salt);
  return (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty;
}

struct Rgb {
  double r = 0, g = 0, b = 0;
};
inline Rgb mix(Rgb a, Rgb b, double t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}
inline Rgb scale(Rgb a, double k) { return {a.r * k, a.g * k, a.b * k}; }

struct Actor {
  uint32_t id = 0;
  clip::ObjectClass cls = clip::CLASS_CAR;
  double s = 0, d = 0;    // road coordinates: arc length, lateral from the ego lane centre
  double vs = 0, vd = 0;  // m/s along and across the road
  double as = 0;          // m/s^2 along the road
  double length = 4.5, width = 1.8, height = 1.5;
  Rgb color{0.6, 0.1, 0.1};
  double brake_at = -1, brake_until = -1, brake_decel = 0;
  double lateral_from = -1, lateral_until = -1, lateral_speed = 0;
};

struct Road {
  std::string kind;
  uint32_t lanes = 2;
  uint32_t ego_lane = 0;      // index from the right
  std::vector<double> kappa;  // curvature per kRoadStep
  std::vector<double> theta;  // heading per kRoadStep

  double at(const std::vector<double>& v, double s) const {
    double i = std::clamp(s / kRoadStep, 0.0, static_cast<double>(v.size() - 2));
    auto k = static_cast<size_t>(i);
    double f = i - static_cast<double>(k);
    return v[k] * (1 - f) + v[k + 1] * f;
  }
  double curvature(double s) const { return at(kappa, s); }
  double heading(double s) const { return at(theta, s); }
  // Lateral positions of the lane boundaries, from the right, relative to the ego lane centre.
  std::vector<double> boundaries() const {
    std::vector<double> b;
    for (uint32_t i = 0; i <= lanes; ++i)
      b.push_back((static_cast<double>(i) - ego_lane - 0.5) * kLaneWidth);
    return b;
  }
  double right_edge() const { return boundaries().front() - 0.6; }
  double left_edge() const { return boundaries().back() + 0.6; }
};

Road make_road(const std::string& kind, uint32_t lanes, Rng& rng, double length) {
  Road road;
  road.kind = kind;
  road.lanes = lanes;
  road.ego_lane = static_cast<uint32_t>(rng.index(lanes));
  size_t n = static_cast<size_t>(length / kRoadStep) + 2;
  road.kappa.resize(n);
  road.theta.resize(n);
  double amp = 0, period = 1, phase = rng.uniform(0, 2 * kPi), sign = rng.uniform() < 0.5 ? -1 : 1;
  if (kind == "gentle") {
    amp = rng.uniform(1.0 / 600, 1.0 / 300);
    period = rng.uniform(400, 700);
  } else if (kind == "sharp") {
    amp = rng.uniform(1.0 / 150, 1.0 / 90);
  } else if (kind == "s-bend") {
    amp = rng.uniform(1.0 / 220, 1.0 / 140);
    period = rng.uniform(140, 220);
  }
  double sharp_start = rng.uniform(10, 40);
  for (size_t i = 0; i < n; ++i) {
    double s = static_cast<double>(i) * kRoadStep;
    double k = 0;
    if (kind == "gentle" || kind == "s-bend") {
      k = amp * std::sin(2 * kPi * s / period + phase);
    } else if (kind == "sharp") {
      // Clothoid-like ramp into a constant arc.
      double r = std::clamp((s - sharp_start) / 30.0, 0.0, 1.0);
      k = sign * amp * r;
    }
    road.kappa[i] = k;
    road.theta[i] = i == 0 ? 0 : road.theta[i - 1] + k * kRoadStep;
  }
  return road;
}

// The world as seen from the ego at one instant: maps road coordinates to the
// ego frame (x forward, y left) and back, consistently for labels and pixels.
struct EgoView {
  const Road* road;
  double s = 0, e = 0, psi = 0;
  std::vector<double> lateral;  // road centre line's lateral offset at x = i * kRoadStep

  EgoView(const Road& r, double s_ego, double e_ego, double psi_ego)
      : road(&r), s(s_ego), e(e_ego), psi(psi_ego) {
    lateral.resize(512);
    double theta0 = r.heading(s);
    double y = 0;
    for (size_t i = 0; i < lateral.size(); ++i) {
      lateral[i] = y;
      double th = r.heading(s + static_cast<double>(i) * kRoadStep) - theta0;
      y += std::sin(th) * kRoadStep;
    }
  }
  double centre_y(double x) const {
    double i = std::clamp(x / kRoadStep, 0.0, static_cast<double>(lateral.size() - 2));
    auto k = static_cast<size_t>(i);
    double f = i - static_cast<double>(k);
    return lateral[k] * (1 - f) + lateral[k + 1] * f;
  }
  // Road lateral coordinate of an ego-frame ground point.
  double road_d(double x, double y) const { return y + e + psi * x - centre_y(x); }
  double ego_y(double x, double d) const { return d - e - psi * x + centre_y(x); }
  // Heading of the road at distance x, relative to the ego's heading.
  double road_yaw(double x) const { return road->heading(s + x) - road->heading(s) - psi; }
};

struct Condition {
  Rgb sky_top{0.45, 0.62, 0.88}, sky_horizon{0.78, 0.84, 0.92};
  Rgb asphalt{0.36, 0.36, 0.38}, grass{0.30, 0.45, 0.20}, shoulder{0.48, 0.46, 0.42};
  Rgb marking{0.92, 0.92, 0.90};
  double fog_visibility = 1e9;  // metres
  Rgb fog{0.75, 0.76, 0.78};
  double ambient = 1.0;
  bool headlights = false;
  double noise_sigma = 1.5;  // in 8-bit levels
  double gain = 1.0;
  int flakes = 0, streaks = 0;
  double snow_cover = 0;  // 0..1 of the road under snow
  bool spray = false;
};

Condition make_condition(const std::string& name) {
  Condition c;
  if (name == "rain") {
    c.sky_top = {0.45, 0.48, 0.52};
    c.sky_horizon = {0.62, 0.64, 0.66};
    c.asphalt = {0.24, 0.24, 0.26};
    c.marking = {0.70, 0.70, 0.70};
    c.fog_visibility = 120;
    c.fog = {0.6, 0.62, 0.64};
    c.streaks = 40;
    c.noise_sigma = 2.5;
  } else if (name == "snow") {
    c.sky_top = {0.70, 0.72, 0.75};
    c.sky_horizon = {0.85, 0.86, 0.88};
    c.asphalt = {0.55, 0.55, 0.57};
    c.grass = {0.90, 0.90, 0.92};
    c.shoulder = {0.88, 0.88, 0.90};
    c.marking = {0.80, 0.80, 0.82};
    c.snow_cover = 0.55;
    c.fog_visibility = 45;
    c.fog = {0.86, 0.87, 0.89};
    c.flakes = 90;
    c.noise_sigma = 3.0;
  } else if (name == "fog") {
    c.fog_visibility = 22;
    c.fog = {0.78, 0.79, 0.80};
    c.sky_top = c.sky_horizon = c.fog;
    c.noise_sigma = 2.0;
  } else if (name == "night") {
    c.sky_top = {0.01, 0.01, 0.03};
    c.sky_horizon = {0.04, 0.04, 0.07};
    c.ambient = 0.10;
    c.headlights = true;
    c.fog = {0.02, 0.02, 0.03};
    c.fog_visibility = 400;
    c.noise_sigma = 4.5;
    c.gain = 1.4;
  } else if (name == "spray") {
    c.sky_top = {0.62, 0.64, 0.68};
    c.sky_horizon = {0.80, 0.81, 0.83};
    c.asphalt = {0.42, 0.42, 0.44};
    c.grass = {0.82, 0.82, 0.85};
    c.spray = true;
    c.fog_visibility = 70;
    c.fog = {0.84, 0.85, 0.87};
    c.flakes = 30;
    c.noise_sigma = 3.0;
  } else if (name != "clear") {
    throw std::invalid_argument(
        fmt::format("unknown condition '{}' (known: clear, rain, snow, fog, night, spray)", name));
  }
  return c;
}

Actor make_vehicle(uint32_t id, clip::ObjectClass cls, Rng& rng) {
  Actor a;
  a.id = id;
  a.cls = cls;
  static const Rgb kPalette[] = {{0.65, 0.08, 0.08}, {0.10, 0.20, 0.55}, {0.12, 0.12, 0.12},
                                 {0.80, 0.80, 0.82}, {0.15, 0.40, 0.20}, {0.70, 0.55, 0.10}};
  a.color = kPalette[rng.index(6)];
  switch (cls) {
    case clip::CLASS_TRUCK:
      a.length = rng.uniform(8, 12), a.width = 2.5, a.height = rng.uniform(3.2, 3.8);
      a.color = {0.85, 0.85, 0.88};
      break;
    case clip::CLASS_PEDESTRIAN:
      a.length = 0.5, a.width = 0.6, a.height = rng.uniform(1.55, 1.9);
      a.color = {0.20, 0.22, 0.45};
      break;
    case clip::CLASS_CYCLIST:
      a.length = 1.8, a.width = 0.6, a.height = 1.7;
      a.color = {0.10, 0.55, 0.60};
      break;
    case clip::CLASS_CONE:
      a.length = 0.4, a.width = 0.4, a.height = 0.7;
      a.color = {0.95, 0.45, 0.05};
      break;
    default:
      a.length = rng.uniform(4.2, 4.9), a.width = rng.uniform(1.75, 1.95),
      a.height = rng.uniform(1.4, 1.6);
  }
  return a;
}

// Places the actors of a traffic pattern. Times are in seconds of clip time.
std::vector<Actor> make_traffic(const std::string& traffic, const Road& road, double ego_speed,
                                double duration, Rng& rng) {
  std::vector<Actor> actors;
  uint32_t next_id = 1;
  auto lane_d = [&](int lane) { return (lane - static_cast<int>(road.ego_lane)) * kLaneWidth; };
  // Background traffic in the other lanes.
  for (uint32_t lane = 0; lane < road.lanes; ++lane) {
    if (lane == road.ego_lane) continue;
    int n = rng.index(3);
    for (int i = 0; i < n; ++i) {
      Actor a =
          make_vehicle(next_id++, rng.uniform() < 0.2 ? clip::CLASS_TRUCK : clip::CLASS_CAR, rng);
      a.s = rng.uniform(8, 70);
      a.d = lane_d(static_cast<int>(lane)) + rng.uniform(-0.3, 0.3);
      a.vs = ego_speed + rng.uniform(-4, 4);
      actors.push_back(a);
    }
  }
  auto lead = [&](clip::ObjectClass cls, double lo, double hi) {
    Actor a = make_vehicle(next_id++, cls, rng);
    a.s = rng.uniform(lo, hi);
    a.d = rng.uniform(-0.25, 0.25);
    a.vs = ego_speed + rng.uniform(-1, 1);
    return a;
  };
  if (traffic == "lead-brake") {
    Actor a = lead(rng.uniform() < 0.25 ? clip::CLASS_TRUCK : clip::CLASS_CAR, 18, 40);
    a.brake_at = duration * rng.uniform(0.15, 0.45);
    a.brake_until = a.brake_at + rng.uniform(0.8, 2.0);
    a.brake_decel = rng.uniform(3, 6);
    actors.push_back(a);
  } else if (traffic == "cut-in") {
    int side = road.ego_lane + 1 < road.lanes ? 1 : -1;
    Actor a = make_vehicle(next_id++, clip::CLASS_CAR, rng);
    a.s = rng.uniform(12, 25);
    a.d = side * kLaneWidth;
    a.vs = ego_speed - rng.uniform(0, 3);
    a.lateral_from = duration * rng.uniform(0.1, 0.3);
    a.lateral_speed = -side * rng.uniform(1.5, 2.5);
    a.lateral_until = a.lateral_from + kLaneWidth / std::abs(a.lateral_speed);
    actors.push_back(a);
  } else if (traffic == "parked") {
    double s = rng.uniform(10, 20);
    for (int i = 0; i < 4; ++i) {
      Actor a = make_vehicle(next_id++, clip::CLASS_CAR, rng);
      a.s = s;
      a.d = road.right_edge() - 0.2 - a.width / 2;
      a.vs = 0;
      actors.push_back(a);
      s += rng.uniform(9, 20);
    }
    if (rng.uniform() < 0.5) actors.push_back(lead(clip::CLASS_CAR, 25, 45));
    for (int i = 0; i < 3; ++i) {
      Actor c = make_vehicle(next_id++, clip::CLASS_CONE, rng);
      c.s = rng.uniform(15, 50);
      c.d = road.left_edge() - 0.3;
      actors.push_back(c);
    }
  } else if (traffic == "pedestrian") {
    // A pedestrian hidden behind a parked truck who then walks into the road.
    Actor truck = make_vehicle(next_id++, clip::CLASS_TRUCK, rng);
    truck.s = ego_speed * duration + rng.uniform(14, 24);
    truck.d = road.right_edge() - 0.2 - truck.width / 2 + 1.6;
    truck.vs = 0;
    Actor ped = make_vehicle(next_id++, clip::CLASS_PEDESTRIAN, rng);
    ped.s = truck.s + truck.length / 2 - 1.0;
    ped.d = truck.d - 0.2;
    ped.vs = 0;
    ped.lateral_from = duration * rng.uniform(0.1, 0.3);
    ped.lateral_speed = rng.uniform(1.2, 1.8);
    ped.lateral_until = ped.lateral_from + 8.0 / ped.lateral_speed;
    actors.push_back(truck);
    actors.push_back(ped);
    Actor cyclist = make_vehicle(next_id++, clip::CLASS_CYCLIST, rng);
    cyclist.s = rng.uniform(20, 40);
    cyclist.d = road.left_edge() - 0.8;
    cyclist.vs = rng.uniform(4, 7);
    actors.push_back(cyclist);
  } else if (traffic != "free") {
    throw std::invalid_argument(fmt::format(
        "unknown traffic pattern '{}' (known: free, lead-brake, cut-in, parked, pedestrian)",
        traffic));
  }
  return actors;
}

void step_actor(Actor& a, double t, double dt) {
  a.as = 0;
  if (t >= a.brake_at && t < a.brake_until) a.as = -a.brake_decel;
  a.vs = std::max(0.0, a.vs + a.as * dt);
  a.s += a.vs * dt;
  a.vd = (t >= a.lateral_from && t < a.lateral_until) ? a.lateral_speed : 0;
  a.d += a.vd * dt;
}

struct Box {
  double cx, cy, cz, hl, hw, hh, yaw;  // centre, half extents, yaw
  double cos_yaw = 1, sin_yaw = 0;     // of -yaw, precomputed once per frame
  void set_yaw(double y) {
    yaw = y;
    cos_yaw = std::cos(-y);
    sin_yaw = std::sin(-y);
  }
};

struct Vec3 {
  double x = 0, y = 0, z = 0;
};

// Ray/oriented-box intersection; returns the ray parameter t of the entry
// point (origin + t * direction), or a negative number. Camera rays have a
// unit component along the camera's axis, so t is the depth along it.
// `face` is 0 for the front/rear, 1 for a side and 2 for the top.
double hit_box(const Box& b, const Vec3& origin, const Vec3& dir, int* face) {
  const double c = b.cos_yaw, s = b.sin_yaw;
  // Ray origin and direction, into the box frame.
  double ox = origin.x - b.cx, oy = origin.y - b.cy;
  double lox = c * ox - s * oy, loy = s * ox + c * oy, loz = origin.z - b.cz;
  double ldx = c * dir.x - s * dir.y, ldy = s * dir.x + c * dir.y, ldz = dir.z;
  double tmin = -1e30, tmax = 1e30;
  int f = 0;
  const double o[3] = {lox, loy, loz}, d[3] = {ldx, ldy, ldz}, h[3] = {b.hl, b.hw, b.hh};
  for (int i = 0; i < 3; ++i) {
    if (std::abs(d[i]) < 1e-12) {
      if (std::abs(o[i]) > h[i]) return -1;
      continue;
    }
    double t0 = (-h[i] - o[i]) / d[i], t1 = (h[i] - o[i]) / d[i];
    if (t0 > t1) std::swap(t0, t1);
    if (t0 > tmin) {
      tmin = t0;
      f = i;
    }
    tmax = std::min(tmax, t1);
    if (tmin > tmax) return -1;
  }
  if (tmin <= 0) return -1;
  *face = f;
  return tmin;
}

clip::Camera make_camera(const std::string& name, uint32_t width, uint32_t height, double y,
                         double yaw, clip::ImageEncoding encoding, uint32_t quality) {
  clip::Camera cam;
  cam.set_name(name);
  cam.set_width(width);
  cam.set_height(height);
  cam.set_channels(3);
  auto* in = cam.mutable_intrinsics();
  in->set_fx(0.8 * width);
  in->set_fy(0.8 * width);
  in->set_cx(0.5 * width);
  in->set_cy(0.42 * height);
  in->set_k1(-0.04);
  in->set_k2(0.0);
  auto* ex = cam.mutable_extrinsics();
  ex->set_y(y);
  ex->set_z(kCameraHeight);
  ex->set_yaw(yaw);
  cam.set_encoding(encoding);
  if (encoding == clip::ENCODING_JPEG) cam.set_quality(quality);
  return cam;
}

// The rig's cameras. "tri": front, and left and right turned 60 degrees out
// (each sees 64 degrees), together about 184 degrees around the front.
std::vector<clip::Camera> make_rig(const ClipSpec& spec) {
  std::vector<clip::Camera> rig{
      make_camera("front", spec.width, spec.height, 0, 0, spec.encoding, spec.quality)};
  if (spec.rig == "tri") {
    rig.push_back(
        make_camera("left", spec.width, spec.height, 0.9, kPi / 3, spec.encoding, spec.quality));
    rig.push_back(
        make_camera("right", spec.width, spec.height, -0.9, -kPi / 3, spec.encoding, spec.quality));
  }
  return rig;
}

// Normalised image coordinates: undo the radial distortion by fixed-point iteration.
inline void undistort(double k1, double k2, double xd, double yd, double* xu, double* yu) {
  double x = xd, y = yd;
  for (int i = 0; i < 4; ++i) {
    double r2 = x * x + y * y;
    double f = 1 + k1 * r2 + k2 * r2 * r2;
    x = xd / f;
    y = yd / f;
  }
  *xu = x;
  *yu = y;
}

struct Renderer {
  const clip::Camera& cam;
  const Condition& cond;
  uint32_t frame_index;
  uint32_t camera_index;  // varies the noise and precipitation between cameras
  Vec3 origin;            // the camera's position in the ego frame
  // Ego-frame ray directions of every sub-pixel sample, with a unit
  // component along the camera's axis: the lens and the mounting do not
  // change during a clip, so they are computed once, not once per frame.
  std::vector<Vec3> rays;
  std::array<uint8_t, 4097> gamma{};

  Renderer(const clip::Camera& c, const Condition& k, uint32_t index)
      : cam(c), cond(k), frame_index(0), camera_index(index) {
    const auto& in = cam.intrinsics();
    const auto& ex = cam.extrinsics();
    origin = {ex.x(), ex.y(), ex.z()};
    const auto r = camera_to_ego_rotation(ex);
    static constexpr double kSub[4][2] = {
        {0.375, 0.125}, {0.875, 0.375}, {0.125, 0.625}, {0.625, 0.875}};
    rays.reserve(size_t{cam.width()} * cam.height() * 4);
    for (uint32_t py = 0; py < cam.height(); ++py) {
      for (uint32_t px = 0; px < cam.width(); ++px) {
        for (const auto& sp : kSub) {
          double xn, yn;
          undistort(in.k1(), in.k2(), (px + sp[0] - in.cx()) / in.fx(),
                    (py + sp[1] - in.cy()) / in.fy(), &xn, &yn);
          const double v[3] = {1, -xn, -yn};  // camera axes: x along the axis, y left, z up
          rays.push_back({r[0][0] * v[0] + r[0][1] * v[1] + r[0][2] * v[2],
                          r[1][0] * v[0] + r[1][1] * v[1] + r[1][2] * v[2],
                          r[2][0] * v[0] + r[2][1] * v[1] + r[2][2] * v[2]});
        }
      }
    }
    for (size_t i = 0; i < gamma.size(); ++i) {
      gamma[i] = static_cast<uint8_t>(
          std::lround(std::pow(static_cast<double>(i) / 4096.0, 1 / 1.1) * 255.0));
    }
  }

  struct Result {
    Image image;
    std::vector<uint32_t> hits_any, hits_front;  // samples per actor
    // Pixel extent of each actor's samples, occluded ones included:
    // min x, min y, max x, max y (inclusive); empty when not hit.
    std::vector<std::array<uint32_t, 4>> extent;
  };

  Result render(const EgoView& view, const std::vector<Actor>& actors,
                const std::vector<Box>& boxes, double yaw_rate, double dt) const {
    const auto& in = cam.intrinsics();
    uint32_t w = cam.width(), h = cam.height();
    Result res;
    res.hits_any.assign(actors.size(), 0);
    res.hits_front.assign(actors.size(), 0);
    res.extent.assign(actors.size(), {w, h, 0, 0});
    std::vector<Rgb> pixels(size_t{w} * h);
    static constexpr double kSamples[4][2] = {
        {0.375, 0.125}, {0.875, 0.375}, {0.125, 0.625}, {0.625, 0.875}};
    auto bounds = view.road->boundaries();
    double right_edge = view.road->right_edge(), left_edge = view.road->left_edge();
    // Spray: a cloud behind the nearest truck ahead in the ego lane.
    double spray_x = -1, spray_y = 0;
    if (cond.spray) {
      for (size_t i = 0; i < actors.size(); ++i) {
        if (actors[i].cls == clip::CLASS_TRUCK && boxes[i].cx > 0 && std::abs(boxes[i].cy) < 2.5 &&
            (spray_x < 0 || boxes[i].cx < spray_x)) {
          spray_x = boxes[i].cx - boxes[i].hl;
          spray_y = boxes[i].cy;
        }
      }
    }
    for (uint32_t py = 0; py < h; ++py) {
      for (uint32_t px = 0; px < w; ++px) {
        Rgb acc;
        const auto* ray = &rays[(size_t{py} * w + px) * 4];
        for (int si = 0; si < 4; ++si) {
          const auto& sp = kSamples[si];
          const Vec3& dir = ray[si];  // ray direction in the ego frame
          const double dy = dir.y, dz = dir.z;
          double t_ground = dz < -1e-9 ? origin.z / -dz : 1e9;
          double t_best = t_ground;
          int best = -1, best_face = 0;
          for (size_t i = 0; i < boxes.size(); ++i) {
            int face = 0;
            double t = hit_box(boxes[i], origin, dir, &face);
            if (t <= 0) continue;
            res.hits_any[i]++;
            auto& ext = res.extent[i];
            ext = {std::min(ext[0], px), std::min(ext[1], py), std::max(ext[2], px),
                   std::max(ext[3], py)};
            if (t < t_best) {
              t_best = t;
              best = static_cast<int>(i);
              best_face = face;
            }
          }
          if (best >= 0) res.hits_front[static_cast<size_t>(best)]++;
          Rgb c;
          double light = cond.ambient;
          double hx = origin.x + dir.x * t_best, hy = origin.y + dy * t_best;
          if (cond.headlights && t_best < 1e8) {
            light += 1.3 * std::exp(-(hx / 40) * (hx / 40)) *
                     std::exp(-(hy * hy) / (4 + 0.4 * hx * hx / 10));
          }
          if (best >= 0) {
            const Actor& a = actors[static_cast<size_t>(best)];
            double shade = best_face == 0 ? 0.8 : best_face == 1 ? 0.62 : 1.0;
            c = scale(a.color, shade * light);
            double hz = origin.z + dz * t_best;
            const Box& b = boxes[static_cast<size_t>(best)];
            // Tail lights on vehicles' rear faces: two red lamps near the outer corners.
            if (best_face == 0 && (a.cls == clip::CLASS_CAR || a.cls == clip::CLASS_TRUCK)) {
              double lat = std::abs(hy - b.cy) / b.hw;
              double zr = (hz - (b.cz - b.hh)) / (2 * b.hh);
              if (lat > 0.65 && zr > 0.45 && zr < 0.7) {
                c = cond.headlights ? Rgb{1.0, 0.15, 0.1} : Rgb{0.75, 0.1, 0.08};
              }
            }
          } else if (t_best < 1e8) {
            double d = view.road_d(hx, hy);
            double s = view.s + hx;
            if (d < right_edge - 1.2 || d > left_edge + 1.2) {
              c = cond.grass;
            } else if (d < right_edge || d > left_edge) {
              c = cond.shoulder;
            } else {
              double tex = hash_unit(static_cast<uint32_t>(std::floor(s * 3)),
                                     static_cast<uint32_t>(std::floor(d * 3) + 1000), 7);
              c = scale(cond.asphalt, 0.93 + 0.14 * tex);
              if (cond.snow_cover > 0) {
                // Snow lies in soft drifts, thinnest in the tyre tracks of each lane.
                double lane_pos = std::abs(
                    std::fmod(d + 100 * kLaneWidth + kLaneWidth / 2, kLaneWidth) - kLaneWidth / 2);
                double track = std::clamp(std::abs(lane_pos - 0.9) / 0.6, 0.0, 1.0);
                double drift = 0.6 * value_noise(s * 0.25, d * 0.8, 11) +
                               0.4 * value_noise(s * 1.1, d * 2.5, 12);
                double cover = std::clamp((drift - (1 - cond.snow_cover)) * 3.0, 0.0, 1.0) *
                               (0.35 + 0.65 * track);
                c = mix(c, cond.grass, cover);
              }
              for (size_t k = 0; k < bounds.size(); ++k) {
                bool outer = k == 0 || k + 1 == bounds.size();
                bool dash_on = outer || std::fmod(s, 12.0) < 4.5;
                if (dash_on && std::abs(d - bounds[k]) < 0.08) c = cond.marking;
              }
            }
            c = scale(c, light * (cond.headlights && c.r == cond.marking.r ? 1.6 : 1.0));
          } else {
            double t = std::clamp((py + sp[1]) / std::max(1.0, in.cy()), 0.0, 1.0);
            c = mix(cond.sky_top, cond.sky_horizon, t);
          }
          // Atmosphere: fog, snow haze, rain mist by distance.
          double dist = std::min(t_best, 1e4);
          double fog = 1 - std::exp(-dist / cond.fog_visibility);
          if (spray_x > 0 && dir.x > 1e-9 && hx > spray_x - 1) {
            // Thrown-up snow behind the truck: densest low and in its wake,
            // thinning with height and to the sides, churning frame to frame.
            double t_spray = (spray_x - origin.x) / dir.x;
            double lateral = origin.y + dy * t_spray - spray_y;
            double z = origin.z + dz * t_spray;
            double churn =
                0.75 + 0.25 * value_noise(lateral * 1.5 + frame_index * 0.7, z * 2.0, 21);
            double density =
                std::exp(-lateral * lateral / 5.0) * std::clamp(1.0 - z / 3.2, 0.0, 1.0) * churn;
            fog = std::max(fog, std::min(0.97, 1.25 * density));
          }
          c = mix(c, cond.fog, std::clamp(fog, 0.0, 1.0));
          acc.r += c.r, acc.g += c.g, acc.b += c.b;
        }
        pixels[size_t{py} * w + px] = scale(acc, 0.25);
      }
    }
    // Precipitation over the image: snow flakes and spray droplets as soft dots,
    // rain as faint streaks. Positions depend on the frame only.
    Rng rng(0xF1A4E5ull ^ (uint64_t{frame_index} * 7919) ^
            (uint64_t{camera_index} * 0x5851F42D4C957F2Dull));
    for (int i = 0; i < cond.flakes; ++i) {
      double fx = rng.uniform(0, w), fy = rng.uniform(0, h), r = rng.uniform(0.4, 1.2);
      for (int yy = static_cast<int>(fy - 2); yy <= static_cast<int>(fy + 2); ++yy) {
        for (int xx = static_cast<int>(fx - 2); xx <= static_cast<int>(fx + 2); ++xx) {
          if (xx < 0 || yy < 0 || xx >= static_cast<int>(w) || yy >= static_cast<int>(h)) continue;
          double dd = std::hypot(xx + 0.5 - fx, yy + 0.5 - fy);
          double a = std::clamp(r + 0.5 - dd, 0.0, 1.0) * 0.85;
          auto& p = pixels[size_t(yy) * w + size_t(xx)];
          p = mix(p, {0.95, 0.95, 0.97}, a);
        }
      }
    }
    for (int i = 0; i < cond.streaks; ++i) {
      double fx = rng.uniform(0, w), fy = rng.uniform(0, h), len = rng.uniform(3, 7);
      for (int k = 0; k < static_cast<int>(len * 2); ++k) {
        double x = fx + 0.25 * k * 0.5, y = fy + k * 0.5;
        if (x < 0 || y < 0 || x >= w || y >= h) continue;
        auto& p = pixels[size_t(y) * w + size_t(x)];
        p = mix(p, {0.8, 0.82, 0.85}, 0.25);
      }
    }
    // Motion blur from the ego's yaw: blend with a horizontally shifted copy.
    double shift = std::abs(yaw_rate) * in.fx() * dt * 0.5;
    if (shift > 0.05) {
      std::vector<Rgb> blurred = pixels;
      for (uint32_t y = 0; y < h; ++y) {
        for (uint32_t x = 0; x < w; ++x) {
          double sx = std::clamp(x + (yaw_rate > 0 ? -shift : shift), 0.0, w - 1.0);
          auto x0 = static_cast<uint32_t>(sx);
          uint32_t x1 = std::min(x0 + 1, w - 1);
          double f = sx - x0;
          Rgb shifted = mix(pixels[size_t{y} * w + x0], pixels[size_t{y} * w + x1], f);
          blurred[size_t{y} * w + x] = mix(pixels[size_t{y} * w + x], shifted, 0.5);
        }
      }
      pixels.swap(blurred);
    }
    // Exposure, sensor noise, 8-bit quantisation.
    res.image = Image(w, h, 3);
    for (uint32_t y = 0; y < h; ++y) {
      for (uint32_t x = 0; x < w; ++x) {
        const Rgb& p = pixels[size_t{y} * w + x];
        const double ch[3] = {p.r, p.g, p.b};
        uint8_t* out = res.image.at(x, y);
        for (int k = 0; k < 3; ++k) {
          // Sum of two uniforms: a cheap, deterministic, roughly Gaussian noise.
          const uint32_t noise_frame = frame_index + camera_index * 1000003u;
          double n = (hash_unit(noise_frame, y * w + x, static_cast<uint32_t>(k)) +
                      hash_unit(noise_frame + 77, y * w + x, static_cast<uint32_t>(k) + 3) - 1.0) *
                     cond.noise_sigma * 2.45;
          double v =
              gamma[static_cast<size_t>(std::clamp(ch[k] * cond.gain, 0.0, 1.0) * 4096.0)] + n;
          out[k] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
        }
      }
    }
    return res;
  }
};

// The eight corners of a cuboid in the ego frame (bit 0: front, 1: left, 2: top).
std::array<Vec3, 8> cuboid_corners(const clip::Cuboid& c) {
  std::array<Vec3, 8> out;
  double cs = std::cos(c.yaw()), sn = std::sin(c.yaw());
  for (int i = 0; i < 8; ++i) {
    double lx = (i & 1 ? 0.5 : -0.5) * c.length(), ly = (i & 2 ? 0.5 : -0.5) * c.width();
    double lz = (i & 4 ? 0.5 : -0.5) * c.height();
    out[static_cast<size_t>(i)] = {c.x() + cs * lx - sn * ly, c.y() + sn * lx + cs * ly,
                                   c.z() + lz};
  }
  return out;
}

// An object's box in one camera: the pixels its rays hit (occluded samples
// too, so the box is amodal within the image); truncation from its corners'
// projection, or 0.5 when part of it is behind the camera.
std::optional<clip::Box2D> camera_box(const clip::Camera& cam, const clip::Cuboid& cuboid,
                                      const Renderer::Result& rendered, size_t actor) {
  if (rendered.hits_any[actor] == 0) return std::nullopt;
  const auto& e = rendered.extent[actor];
  clip::Box2D box;
  box.set_camera(cam.name());
  box.set_x0(e[0]);
  box.set_y0(e[1]);
  box.set_x1(e[2] + 1.0);
  box.set_y1(e[3] + 1.0);
  double u0 = 1e18, v0 = 1e18, u1 = -1e18, v1 = -1e18;
  bool in_front = true;
  for (const auto& p : cuboid_corners(cuboid)) {
    double u, v;
    if (!project_point(cam, p.x, p.y, p.z, &u, &v)) {
      in_front = false;
      break;
    }
    u0 = std::min(u0, u), v0 = std::min(v0, v), u1 = std::max(u1, u), v1 = std::max(v1, v);
  }
  double truncation = 0.5;
  if (in_front) {
    double full = (u1 - u0) * (v1 - v0);
    double iw = std::max(0.0, std::min<double>(u1, cam.width()) - std::max(u0, 0.0));
    double ih = std::max(0.0, std::min<double>(v1, cam.height()) - std::max(v0, 0.0));
    truncation = full > 0 ? std::clamp(1 - iw * ih / full, 0.0, 1.0) : 0.0;
  }
  box.set_truncation(truncation);
  box.set_visible_fraction(static_cast<double>(rendered.hits_front[actor]) /
                           rendered.hits_any[actor]);
  return box;
}

Box actor_box(const EgoView& view, const Actor& a) {
  double x = a.s - view.s;
  Box b;
  b.cx = x;
  b.cy = view.ego_y(x, a.d);
  b.cz = a.height / 2;
  b.hl = a.length / 2;
  b.hw = a.width / 2;
  b.hh = a.height / 2;
  b.set_yaw(a.cls == clip::CLASS_PEDESTRIAN || a.cls == clip::CLASS_CONE ? 0 : view.road_yaw(x));
  return b;
}

}  // namespace

const std::vector<std::string>& known_conditions() {
  static const std::vector<std::string> k{"clear", "rain", "snow", "fog", "night", "spray"};
  return k;
}
const std::vector<std::string>& known_roads() {
  static const std::vector<std::string> k{"straight", "gentle", "sharp", "s-bend"};
  return k;
}
const std::vector<std::string>& known_traffic() {
  static const std::vector<std::string> k{"free", "lead-brake", "cut-in", "parked", "pedestrian"};
  return k;
}
const std::vector<std::string>& known_rigs() {
  static const std::vector<std::string> k{"front", "tri"};
  return k;
}

ClipSpec resolve_spec(ClipSpec spec) {
  Rng rng(spec.seed ^ 0xC11Bull);
  if (spec.road.empty())
    spec.road = known_roads()[static_cast<size_t>(rng.index(known_roads().size()))];
  if (spec.traffic.empty())
    spec.traffic = known_traffic()[static_cast<size_t>(rng.index(known_traffic().size()))];
  if (spec.lanes == 0) spec.lanes = 2 + static_cast<uint32_t>(rng.index(3));
  auto check = [](const std::string& v, const std::vector<std::string>& known, const char* what) {
    if (std::find(known.begin(), known.end(), v) == known.end()) {
      throw std::invalid_argument(fmt::format("unknown {} '{}'", what, v));
    }
  };
  check(spec.condition, known_conditions(), "condition");
  check(spec.road, known_roads(), "road");
  check(spec.traffic, known_traffic(), "traffic pattern");
  check(spec.rig, known_rigs(), "camera rig");
  if (spec.encoding == clip::ENCODING_JPEG && (spec.quality < 1 || spec.quality > 100))
    throw std::invalid_argument(fmt::format("JPEG quality must be 1..100, got {}", spec.quality));
  if (!clip::ImageEncoding_IsValid(spec.encoding))
    throw std::invalid_argument(
        fmt::format("unknown image encoding {}", static_cast<int>(spec.encoding)));
  if (spec.lanes < 1 || spec.lanes > 6)
    throw std::invalid_argument(fmt::format("lanes must be 1..6, got {}", spec.lanes));
  if (spec.width < 32 || spec.height < 16 || spec.width > 4096 || spec.height > 4096) {
    throw std::invalid_argument(
        fmt::format("image size {}x{} out of range", spec.width, spec.height));
  }
  if (spec.fps <= 0 || spec.fps > 1000)
    throw std::invalid_argument(fmt::format("fps {} out of range", spec.fps));
  return spec;
}

std::string generate_clip_bytes(const ClipSpec& requested) {
  ClipSpec spec = resolve_spec(requested);
  Rng rng(spec.seed);
  const double dt = 1.0 / spec.fps;
  const double duration = spec.frames * dt;
  double ego_speed = rng.uniform(11, 24);
  Road road = make_road(spec.road, spec.lanes, rng, ego_speed * duration * 1.5 + 400);
  Condition cond = make_condition(spec.condition);
  std::vector<Actor> actors = make_traffic(spec.traffic, road, ego_speed, duration, rng);
  if (spec.condition == "spray" && std::none_of(actors.begin(), actors.end(), [](const Actor& a) {
        return a.cls == clip::CLASS_TRUCK && std::abs(a.d) < 1.0;
      })) {
    Actor truck = make_vehicle(100, clip::CLASS_TRUCK, rng);
    truck.s = rng.uniform(14, 22);
    truck.vs = ego_speed;
    actors.push_back(truck);
  }

  clip::ClipHeader header;
  header.set_format_version(kClipFormatVersion);
  header.set_clip_id(fmt::format("gen-v{}-{}-{}-{}-{}{}", kGeneratorVersion, spec.seed,
                                 spec.condition, spec.road, spec.traffic,
                                 spec.rig == "front" ? "" : "-" + spec.rig));
  header.set_name(header.clip_id());
  header.add_tags(spec.condition);
  header.add_tags("road:" + spec.road);
  header.add_tags("traffic:" + spec.traffic);
  header.add_tags(fmt::format("lanes:{}", spec.lanes));
  // Object classes present, so that gates can slice by class.
  static constexpr const char* kClassNames[] = {"unknown",    "car",     "truck",
                                                "pedestrian", "cyclist", "cone"};
  std::set<int> classes;
  for (const auto& a : actors) classes.insert(static_cast<int>(a.cls));
  for (int c : classes) header.add_tags(fmt::format("class:{}", kClassNames[c]));
  header.set_fps(spec.fps);
  header.set_frame_count(spec.frames);
  for (auto& cam : make_rig(spec)) *header.add_cameras() = std::move(cam);
  for (const char* t : {truth::kEgo, truth::kControl, truth::kOdometry, truth::kLanes,
                        truth::kObjects3d, truth::kObjects2d}) {
    header.add_truth(t);
  }
  auto* gp = header.mutable_generator();
  gp->set_seed(spec.seed);
  gp->set_road(spec.road);
  gp->set_lanes(spec.lanes);
  gp->set_ego_lane(road.ego_lane);
  gp->set_condition(spec.condition);
  gp->set_traffic(spec.traffic);
  gp->set_ego_speed(ego_speed);
  gp->set_generator_version(kGeneratorVersion);

  // Ego state in road coordinates.
  double s = 0, e = rng.uniform(-0.7, 0.7), psi = rng.uniform(-0.03, 0.03), v = ego_speed;
  const double v_set = ego_speed;
  const double wander_amp = rng.uniform(0.2, 0.8), wander_period = rng.uniform(1.5, 5.0),
               wander_phase = rng.uniform(0, 2 * kPi);
  const double wander_bias = rng.uniform(-0.4, 0.4);

  std::vector<clip::Frame> frames;
  frames.reserve(spec.frames);
  std::vector<Renderer> renderers;
  renderers.reserve(static_cast<size_t>(header.cameras_size()));
  for (int c = 0; c < header.cameras_size(); ++c)
    renderers.emplace_back(header.cameras(c), cond, static_cast<uint32_t>(c));
  for (uint32_t k = 0; k < spec.frames; ++k) {
    const double t = k * dt;
    EgoView view(road, s, e, psi);
    const double kappa = road.curvature(s);

    // Controllers: lane keeping towards a wandering target offset (so that the
    // ego's offset varies), adaptive cruise behind the lead vehicle.
    double target = wander_bias + wander_amp * std::sin(2 * kPi * t / wander_period + wander_phase);
    double vv = std::max(v, 3.0);
    double omega = 1.6, zeta = 0.8;
    double k_e = omega * omega * kWheelbase / (vv * vv), k_psi = 2 * zeta * omega * kWheelbase / vv;
    double steering = std::clamp(kWheelbase * kappa - k_e * (e - target) - k_psi * psi, -0.5, 0.5);

    std::vector<Box> boxes;
    boxes.reserve(actors.size());
    for (const auto& a : actors) boxes.push_back(actor_box(view, a));
    int lead = -1;
    for (size_t i = 0; i < actors.size(); ++i) {
      const auto& a = actors[i];
      if (a.cls != clip::CLASS_CAR && a.cls != clip::CLASS_TRUCK && a.cls != clip::CLASS_CYCLIST)
        continue;
      double x = boxes[i].cx - boxes[i].hl;
      if (x > 0 && x < 60 && std::abs(a.d - 0) < kLaneWidth / 2 + 0.2 &&
          (lead < 0 ||
           x < boxes[static_cast<size_t>(lead)].cx - boxes[static_cast<size_t>(lead)].hl)) {
        lead = static_cast<int>(i);
      }
    }
    double accel = std::clamp(0.5 * (v_set - v), -2.0, 1.5);
    if (lead >= 0) {
      const auto& la = actors[static_cast<size_t>(lead)];
      double gap = boxes[static_cast<size_t>(lead)].cx - boxes[static_cast<size_t>(lead)].hl - 2.0;
      double desired = 5.0 + 1.4 * v;
      accel = std::min(accel, std::clamp(0.25 * (gap - desired) + 0.9 * (la.vs - v), -7.0, 1.5));
    }
    double yaw_rate = v * std::tan(steering) / kWheelbase;

    std::vector<Renderer::Result> views;
    clip::Frame f;
    f.set_index(k);
    f.set_timestamp(t);
    for (size_t c = 0; c < renderers.size(); ++c) {
      auto& renderer = renderers[c];
      renderer.frame_index = static_cast<uint32_t>(spec.seed * 131 + k);
      views.push_back(renderer.render(view, actors, boxes, yaw_rate, dt));
      const Image& image = views.back().image;
      auto* img = f.add_images();
      img->set_camera(renderer.cam.name());
      img->set_encoding(spec.encoding);
      switch (spec.encoding) {
        case clip::ENCODING_JPEG:
          img->set_pixels(encode_jpeg(image, static_cast<int>(spec.quality)));
          break;
        case clip::ENCODING_PNG:
          img->set_pixels(encode_png(image));
          break;
        default:
          img->set_pixels(std::string(image.pixels.begin(), image.pixels.end()));
          break;
      }
    }
    auto* imu = f.mutable_imu();
    imu->set_ax(accel);
    imu->set_ay(v * yaw_rate);
    imu->set_az(9.81);
    imu->set_wz(yaw_rate);
    f.mutable_odometry()->set_speed(v);
    f.mutable_odometry()->set_yaw_rate(yaw_rate);
    f.mutable_control()->set_steering(steering);
    f.mutable_control()->set_acceleration(accel);

    auto* labels = f.mutable_labels();
    auto bounds = road.boundaries();
    auto add_line = [&](google::protobuf::RepeatedPtrField<clip::LaneLine>* lines, double d,
                        clip::LineType type) {
      auto* line = lines->Add();
      line->set_type(type);
      for (double x = 3; x <= 60.0 + 1e-9; x += 3) {
        auto* p = line->add_points();
        p->set_x(x);
        p->set_y(view.ego_y(x, d));
      }
    };
    for (size_t i = 0; i < bounds.size(); ++i) {
      bool outer = i == 0 || i + 1 == bounds.size();
      add_line(labels->mutable_lanes(), bounds[i], outer ? clip::LINE_SOLID : clip::LINE_DASHED);
    }
    add_line(labels->mutable_road_edges(), road.right_edge(), clip::LINE_ROAD_EDGE);
    add_line(labels->mutable_road_edges(), road.left_edge(), clip::LINE_ROAD_EDGE);
    for (size_t i = 0; i < actors.size(); ++i) {
      const auto& a = actors[i];
      const auto& b = boxes[i];
      if (b.cx < -10 || b.cx > 120) continue;
      auto* o = labels->add_objects();
      o->set_track_id(a.id);
      o->set_cls(a.cls);
      auto* c = o->mutable_cuboid();
      c->set_x(b.cx);
      c->set_y(b.cy);
      c->set_z(b.cz);
      c->set_length(a.length);
      c->set_width(a.width);
      c->set_height(a.height);
      c->set_yaw(b.yaw);
      double yaw = view.road_yaw(b.cx);
      o->set_vx(a.vs * std::cos(yaw) - a.vd * std::sin(yaw));
      o->set_vy(a.vs * std::sin(yaw) + a.vd * std::cos(yaw));
      o->set_ax(a.as * std::cos(yaw));
      o->set_ay(a.as * std::sin(yaw));
      // Visibility in the camera that sees most of the object; a box in each camera that sees it.
      uint32_t any = 0, front = 0;
      for (size_t c = 0; c < views.size(); ++c) {
        const auto& rendered = views[c];
        if (rendered.hits_any[i] > any) {
          any = rendered.hits_any[i];
          front = rendered.hits_front[i];
        }
        if (auto box = camera_box(header.cameras(static_cast<int>(c)), o->cuboid(), rendered, i)) {
          *o->add_boxes() = *box;
        }
      }
      double fraction = any ? static_cast<double>(front) / any : 0.0;
      o->set_visible_fraction(fraction);
      o->set_visibility(any == 0          ? clip::OUT_OF_VIEW
                        : fraction >= 0.8 ? clip::VISIBLE
                        : fraction > 0.02 ? clip::PARTLY_OCCLUDED
                                          : clip::FULLY_OCCLUDED);
    }
    auto* ego = labels->mutable_ego();
    ego->set_lane_offset(e);
    ego->set_lane_heading(psi);
    ego->set_curvature(kappa);
    if (lead >= 0) {
      ego->set_lead_present(true);
      ego->set_lead_distance(boxes[static_cast<size_t>(lead)].cx -
                             boxes[static_cast<size_t>(lead)].hl);
    }
    frames.push_back(std::move(f));

    // Integrate the ego (kinematic bicycle in road coordinates) and the actors.
    double v_next = std::max(0.0, v + accel * dt);
    s += v * std::cos(psi) * dt;
    e += v * std::sin(psi) * dt;
    psi += (yaw_rate - v * kappa) * dt;
    v = v_next;
    for (auto& a : actors) step_actor(a, t, dt);
  }
  return encode_clip(header, frames);
}

std::string generate_clip_file(const ClipSpec& spec, const std::filesystem::path& dir) {
  // A clip is a function of its spec and the generator's version: the index
  // `by-spec/<key>` names its SHA-256, so a cached clip set (the nightly's
  // 2,000 clips take minutes to render) is not rendered again to learn its hashes.
  const ClipSpec r = resolve_spec(spec);
  const std::string key = sha256_hex(
      fmt::format("hil-clip v{} seed={} frames={} condition={} road={} traffic={} lanes={} "
                  "size={}x{} fps={} rig={} "
                  "encoding={} quality={}",
                  kGeneratorVersion, r.seed, r.frames, r.condition, r.road, r.traffic, r.lanes,
                  r.width, r.height, r.fps, r.rig, static_cast<int>(r.encoding), r.quality));
  const auto index = dir / "by-spec" / key;
  std::error_code ec;
  if (std::filesystem::exists(index, ec)) {
    std::string sha = read_file(index);
    if (is_sha256_hex(sha) && std::filesystem::exists(dir / (sha + ".clip"), ec)) return sha;
  }
  std::string bytes = generate_clip_bytes(spec);
  std::string sha = sha256_hex(bytes);
  std::filesystem::create_directories(dir / "by-spec");
  auto path = dir / (sha + ".clip");
  if (!std::filesystem::exists(path)) write_file_atomic(path, bytes);
  write_file_atomic(index, sha);
  return sha;
}

Image frame_image(const clip::ClipHeader& header, const clip::Frame& frame, uint32_t camera) {
  if (camera >= static_cast<uint32_t>(header.cameras_size())) {
    throw std::out_of_range(fmt::format("frame {}: no camera {} (the clip has {})", frame.index(),
                                        camera, header.cameras_size()));
  }
  const auto& cam = header.cameras(static_cast<int>(camera));
  const clip::CameraImage* found = nullptr;
  for (const auto& img : frame.images()) {
    if (img.camera() == cam.name()) found = &img;
  }
  // Format 1 clips wrote one image per frame; take it by position.
  if (!found && camera < static_cast<uint32_t>(frame.images_size()))
    found = &frame.images(static_cast<int>(camera));
  if (!found)
    throw std::out_of_range(
        fmt::format("frame {}: no image from camera '{}'", frame.index(), cam.name()));
  Image img(cam.width(), cam.height(), cam.channels());
  if (found->encoding() != clip::ENCODING_RAW) {
    img = decode_image(found->pixels(), cam.channels() == 1 ? 1 : 3);
    if (img.width != cam.width() || img.height != cam.height()) {
      throw std::runtime_error(
          fmt::format("frame {}: camera '{}' image decodes to {}x{}, expected {}x{}", frame.index(),
                      cam.name(), img.width, img.height, cam.width(), cam.height()));
    }
    return img;
  }
  const auto& px = found->pixels();
  if (px.size() != img.pixels.size()) {
    throw std::runtime_error(fmt::format("frame {}: image has {} bytes, expected {}", frame.index(),
                                         px.size(), img.pixels.size()));
  }
  std::copy(px.begin(), px.end(), img.pixels.begin());
  return img;
}

void draw_labels(Image& image, const clip::ClipHeader& header, const clip::Frame& frame,
                 uint32_t scale, uint32_t camera) {
  const auto& cam = header.cameras(static_cast<int>(camera));
  auto line3 = [&](const Vec3& a, const Vec3& b, const uint8_t* rgb, double alpha) {
    double u0, v0, u1, v1;
    if (!project_point(cam, a.x, a.y, a.z, &u0, &v0) ||
        !project_point(cam, b.x, b.y, b.z, &u1, &v1))
      return;
    draw_line(image, u0 * scale, v0 * scale, u1 * scale, v1 * scale, rgb, alpha);
  };
  static const uint8_t kLane[3] = {40, 230, 60}, kEdge[3] = {230, 200, 40};
  auto polyline = [&](const clip::LaneLine& line, const uint8_t* rgb, double alpha) {
    for (int i = 1; i < line.points_size(); ++i) {
      const auto &a = line.points(i - 1), &b = line.points(i);
      line3({a.x(), a.y(), 0}, {b.x(), b.y(), 0}, rgb, alpha);
    }
  };
  for (const auto& line : frame.labels().lanes()) polyline(line, kLane, 0.9);
  for (const auto& line : frame.labels().road_edges()) polyline(line, kEdge, 0.7);
  for (const auto& o : frame.labels().objects()) {
    if (o.visibility() == clip::OUT_OF_VIEW) continue;
    uint8_t rgb[3] = {255, 60, 60};
    if (o.cls() == clip::CLASS_PEDESTRIAN || o.cls() == clip::CLASS_CYCLIST)
      rgb[0] = 60, rgb[2] = 255;
    double alpha = o.visibility() == clip::FULLY_OCCLUDED    ? 0.35
                   : o.visibility() == clip::PARTLY_OCCLUDED ? 0.6
                                                             : 1.0;
    if (!o.has_cuboid()) {
      for (const auto& b : o.boxes()) {
        if (b.camera() != cam.name()) continue;
        const double x0 = b.x0() * scale, y0 = b.y0() * scale, x1 = b.x1() * scale,
                     y1 = b.y1() * scale;
        draw_line(image, x0, y0, x1, y0, rgb, alpha);
        draw_line(image, x1, y0, x1, y1, rgb, alpha);
        draw_line(image, x1, y1, x0, y1, rgb, alpha);
        draw_line(image, x0, y1, x0, y0, rgb, alpha);
      }
      continue;
    }
    const auto corners = cuboid_corners(o.cuboid());
    static constexpr int kEdges[12][2] = {{0, 1}, {2, 3}, {4, 5}, {6, 7}, {0, 2}, {1, 3},
                                          {4, 6}, {5, 7}, {0, 4}, {1, 5}, {2, 6}, {3, 7}};
    for (const auto& e : kEdges) {
      line3(corners[static_cast<size_t>(e[0])], corners[static_cast<size_t>(e[1])], rgb, alpha);
    }
  }
}

}  // namespace hil::evals
