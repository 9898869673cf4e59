#include "view_state.h"

#include <QRegularExpression>

namespace hil::viewer {

std::optional<int64_t> resolve_revision(
    const std::vector<hil::db::Store::RevisionSummary>& revisions, const QString& name_or_sha) {
  const QString wanted = name_or_sha.trimmed();
  if (wanted.isEmpty()) return std::nullopt;
  const std::string text = wanted.toStdString();
  const std::string lower = wanted.toLower().toStdString();
  for (const auto& r : revisions) {
    if (r.revision.sha256 == lower) return r.revision.id;
  }
  static const QRegularExpression hex(QStringLiteral("^[0-9a-fA-F]{6,64}$"));
  if (hex.match(wanted).hasMatch()) {
    std::optional<int64_t> found;
    int matches = 0;
    for (const auto& r : revisions) {
      if (r.revision.sha256.rfind(lower, 0) == 0) {
        found = r.revision.id;
        ++matches;
      }
    }
    if (matches == 1) return found;
  }
  // By name: the list is newest first.
  for (const auto& r : revisions) {
    if (r.revision.name == text) return r.revision.id;
  }
  return std::nullopt;
}

QString shell_quote(const QString& argument) {
  static const QRegularExpression safe(QStringLiteral("^[A-Za-z0-9_./:=@%+,-]+$"));
  if (safe.match(argument).hasMatch()) return argument;
  QString quoted = argument;
  quoted.replace(QLatin1Char('\''), QStringLiteral("'\\''"));
  return QStringLiteral("'%1'").arg(quoted);
}

QString view_command_line(const QString& database, const QString& sha_a, const QString& sha_b,
                          std::optional<int64_t> run_id, const QString& clip_sha, int frame,
                          FrameMode mode, const QString& camera) {
  QStringList args{QStringLiteral("hil-viewer"), shell_quote(database)};
  args << QStringLiteral("--a") << shell_quote(sha_a.left(12)) << QStringLiteral("--b")
       << shell_quote(sha_b.left(12));
  if (run_id) args << QStringLiteral("--run") << QString::number(*run_id);
  if (!clip_sha.isEmpty()) {
    args << QStringLiteral("--clip") << shell_quote(clip_sha) << QStringLiteral("--frame")
         << QString::number(frame);
  }
  if (mode != FrameMode::kSideBySide)
    args << QStringLiteral("--mode") << QLatin1String(frame_mode_name(mode));
  if (!camera.isEmpty()) args << QStringLiteral("--camera") << shell_quote(camera);
  return args.join(QLatin1Char(' '));
}

}  // namespace hil::viewer
