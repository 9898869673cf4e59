#include "csv_export.h"

#include <algorithm>
#include <cmath>

#include <QStringList>

#include "clip_table_model.h"

namespace hil::viewer {
namespace {

QString number(double v) { return std::isnan(v) ? QString() : QString::number(v, 'g', 9); }

}  // namespace

QString csv_field(const QString& field) {
  if (!field.contains(QLatin1Char(',')) && !field.contains(QLatin1Char('"')) &&
      !field.contains(QLatin1Char('\n'))) {
    return field;
  }
  QString quoted = field;
  quoted.replace(QLatin1Char('"'), QStringLiteral("\"\""));
  return QStringLiteral("\"%1\"").arg(quoted);
}

QString clip_table_csv(const ClipTableModel& model) {
  const DiffTable& table = model.table();
  QStringList header{
      QStringLiteral("clip"),    QStringLiteral("sha256"),       QStringLiteral("scenario"),
      QStringLiteral("verdict"), QStringLiteral("worst_metric"), QStringLiteral("worst_margins"),
      QStringLiteral("tags"),    QStringLiteral("eval_a"),       QStringLiteral("eval_b")};
  for (const auto& m : table.metrics) {
    const QString name = QString::fromStdString(m.name);
    header << name + QStringLiteral("_a") << name + QStringLiteral("_b")
           << name + QStringLiteral("_delta");
  }
  QStringList lines{header.join(QLatin1Char(','))};
  for (int row = 0; row < model.filtered_count(); ++row) {
    const ClipDiff& clip = model.clip_at(row);
    QStringList tags;
    for (const auto& t : clip.tags) tags << QString::fromStdString(t);
    QStringList fields{
        csv_field(QString::fromStdString(clip.clip_name)),
        QString::fromStdString(clip.clip_sha),
        csv_field(QString::fromStdString(clip.scenario)),
        QLatin1String(clip_verdict_name(clip.verdict)),
        clip.worst_metric >= 0
            ? QString::fromStdString(table.metrics[static_cast<size_t>(clip.worst_metric)].name)
            : QString(),
        number(clip.worst),
        csv_field(tags.join(QLatin1Char(','))),
        QString::number(clip.eval_a),
        QString::number(clip.eval_b)};
    for (const auto& d : clip.metrics) {
      if (d.present) {
        fields << number(d.a) << number(d.b) << number(d.delta);
      } else {
        fields << QString() << QString() << QString();
      }
    }
    lines << fields.join(QLatin1Char(','));
  }
  return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

QString series_csv(const EvalSeries& a, const EvalSeries& b,
                   const std::vector<std::string>& names) {
  QStringList header{QStringLiteral("frame")};
  std::vector<std::vector<float>> columns;
  for (const auto& name : names) {
    header << csv_field(QString::fromStdString(name) + QStringLiteral(" A"))
           << csv_field(QString::fromStdString(name) + QStringLiteral(" B"));
    columns.push_back(a.series(name));
    columns.push_back(b.series(name));
  }
  size_t frames = 0;
  for (const auto& c : columns) frames = std::max(frames, c.size());
  QStringList lines{header.join(QLatin1Char(','))};
  for (size_t k = 0; k < frames; ++k) {
    QStringList fields{QString::number(k)};
    for (const auto& c : columns) fields << (k < c.size() ? number(c[k]) : QString());
    lines << fields.join(QLatin1Char(','));
  }
  return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

}  // namespace hil::viewer
