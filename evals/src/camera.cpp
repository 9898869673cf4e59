#include "hil/evals/camera.h"

#include <cmath>

namespace hil::evals {

Matrix3 camera_to_ego_rotation(const clip::CameraExtrinsics& ex) {
  const double cy = std::cos(ex.yaw()), sy = std::sin(ex.yaw());
  const double cp = std::cos(ex.pitch()), sp = std::sin(ex.pitch());
  const double cr = std::cos(ex.roll()), sr = std::sin(ex.roll());
  // Rz(yaw) * Ry(pitch) * Rx(roll); Ry with positive pitch tilts +x towards -z.
  return {{{cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr},
           {sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr},
           {-sp, cp * sr, cp * cr}}};
}

bool project_point(const clip::Camera& camera, double x, double y, double z, double* u, double* v) {
  const auto& ex = camera.extrinsics();
  const double px = x - ex.x(), py = y - ex.y(), pz = z - ex.z();
  double cx = px, cy = py, cz = pz;
  if (ex.yaw() != 0 || ex.pitch() != 0 || ex.roll() != 0) {
    const Matrix3 r = camera_to_ego_rotation(ex);
    // The inverse of a rotation is its transpose.
    cx = r[0][0] * px + r[1][0] * py + r[2][0] * pz;
    cy = r[0][1] * px + r[1][1] * py + r[2][1] * pz;
    cz = r[0][2] * px + r[1][2] * py + r[2][2] * pz;
  }
  if (cx < 0.3) return false;
  const auto& in = camera.intrinsics();
  double xn = -cy / cx, yn = -cz / cx;
  double r2 = xn * xn + yn * yn;
  // Radial distortion folds back where r (1 + k1 r^2 + k2 r^4) stops growing:
  // a point that far off the axis would land on the wrong side of the image.
  if (1 + 3 * in.k1() * r2 + 5 * in.k2() * r2 * r2 <= 0.05) return false;
  double f = 1 + in.k1() * r2 + in.k2() * r2 * r2;
  *u = in.cx() + in.fx() * xn * f;
  *v = in.cy() + in.fy() * yn * f;
  return true;
}

}  // namespace hil::evals
