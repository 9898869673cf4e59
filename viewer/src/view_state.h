// A reproducible view of the compare pane: which revisions, which run or
// suite, which clip and frame, which frame mode and camera. It comes from the
// command line (hil-viewer DB --a REV --b REV --clip HASH --frame K --mode
// overlay --camera left),
// from the settings of the last session, and goes back out as a command line
// a reviewer can paste ("copy command line").
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <QString>

#include "frame_view.h"
#include "hil/db/store.h"

class QSettings;

namespace hil::viewer {

struct ViewRequest {
  QString revision_a, revision_b;  // a name, a SHA-256 or a prefix of one (>= 6 hex digits)
  std::optional<int64_t> run_id;
  std::optional<int64_t> suite_id;
  QString clip;      // a SHA-256 or a prefix of one
  QString scenario;  // empty: the clip's first
  std::optional<int> frame;
  std::optional<FrameMode> mode;
  QString camera;  // a camera's name, or "all"; empty: as it was
  bool empty() const {
    return revision_a.isEmpty() && revision_b.isEmpty() && !run_id && !suite_id && clip.isEmpty() &&
           !frame && !mode && camera.isEmpty();
  }
};

// The revision a name or hash means: an exact SHA-256, a unique prefix of
// one (at least 6 hex digits), or a name (the newest revision of that name).
std::optional<int64_t> resolve_revision(
    const std::vector<hil::db::Store::RevisionSummary>& revisions, const QString& name_or_sha);

// `hil-viewer DB --a SHA12 --b SHA12 [--run ID] --clip SHA --frame K --mode M
// [--camera NAME]`, arguments quoted for a POSIX shell where needed; `camera`
// empty: every camera (the default, not written).
QString view_command_line(const QString& database, const QString& sha_a, const QString& sha_b,
                          std::optional<int64_t> run_id, const QString& clip_sha, int frame,
                          FrameMode mode, const QString& camera = {});

QString shell_quote(const QString& argument);

}  // namespace hil::viewer
