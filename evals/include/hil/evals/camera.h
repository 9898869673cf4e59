// The camera model every part of hil shares (renderer, importer, viewer,
// decoders): a pinhole with radial distortion (k1, k2), mounted on the ego at
// a position and a yaw, pitch and roll (clip.proto CameraExtrinsics).
//
// Frames: the ego frame is x forward, y left, z up (metres, origin on the
// ground below the reference point); a camera's own axes are x along its
// optical axis, y to its left, z up, so a camera with zero angles looks
// straight ahead. Rotations apply yaw (about z, positive turns left), then
// pitch (about y, positive looks down), then roll (about x).
#pragma once

#include <array>

#include "evals/proto/clip.pb.h"

namespace hil::evals {

using Matrix3 = std::array<std::array<double, 3>, 3>;

// Takes vectors in the camera's axes to the ego frame.
Matrix3 camera_to_ego_rotation(const clip::CameraExtrinsics& extrinsics);

// Projects an ego-frame point to pixel coordinates of the camera; returns
// false when it is less than 0.3 m in front of the camera, or so far off
// its axis that the lens model folds back.
bool project_point(const clip::Camera& camera, double x, double y, double z, double* u, double* v);

}  // namespace hil::evals
