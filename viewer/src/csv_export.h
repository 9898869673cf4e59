// CSV exports of what the compare pane shows: the clip table (every row
// passing the filter, in the table's order, raw values) and the per-frame
// series of A and B for the selected clip. RFC 4180 quoting.
#pragma once

#include <string>
#include <vector>

#include <QString>

#include "eval_series.h"

namespace hil::viewer {

class ClipTableModel;

QString csv_field(const QString& field);
QString clip_table_csv(const ClipTableModel& model);
// frame, then "<series> A", "<series> B" for each name; empty cells for
// missing values.
QString series_csv(const EvalSeries& a, const EvalSeries& b, const std::vector<std::string>& names);

}  // namespace hil::viewer
