// The compare view: revision A against revision B. On top the pair and the
// scope (a run, a suite, or all their results); on the left the clip table
// (worst regressions first) and the histogram of per-clip deltas; on the
// right the selected clip's cameras with overlays (the truth and both
// revisions' decoded outputs), the timeline with its markers, and per-frame
// charts of A and B, all following one playback controller. Metrics, series
// and heads are whatever the suite and the results name: nothing here knows
// one by name. Keyboard first (? lists the keys); every view is reproducible
// as a command line.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>

#include <QString>
#include <QStringList>
#include <QWidget>

#include "eval_series.h"
#include "frame_view.h"
#include "results_source.h"
#include "view_state.h"

class QButtonGroup;
class QComboBox;
class QLabel;
class QLineEdit;
class QSettings;
class QSplitter;
class QTableView;
class QToolButton;

namespace hil::viewer {

class ClipFrames;
class ClipTableModel;
class DeltaHistogramChart;
class PlaybackController;
class SeriesChart;
class TimelineView;
struct ClipDiff;

class ComparePane : public QWidget {
  Q_OBJECT

 public:
  // Until the user picks one, each chart shows a series that explains the
  // table's metrics, the selected clip's worst first (default_chart_series).
  static constexpr int kCharts = 3;

  explicit ComparePane(QWidget* parent = nullptr);
  ~ComparePane() override;

  // Shows the results of `source` (not owned; nullptr: none) and applies
  // `request`; returns what of the request could not be found.
  QStringList set_source(ResultsSource* source, const ViewRequest& request = {});
  // Applies a view: revisions, scope, clip, frame, mode. Unset parts keep
  // their defaults (the newest run with a baseline; its worst clip).
  QStringList apply(const ViewRequest& request);
  // Re-reads what the scheduler wrote meanwhile (revisions, new results of
  // the pair) and keeps the selected clip and frame. Throws nothing: errors
  // go to status_message().
  void refresh();

  // Shows `comparison`; false (and a status message) when a revision is unknown.
  bool set_comparison(const Comparison& comparison);
  std::optional<Comparison> comparison() const;
  // Selects a clip of the table (full hash or unique prefix; first scenario
  // unless given); false when the table has no such clip.
  bool select_clip(const QString& sha_or_prefix, const QString& scenario = {});
  // The clip whose frames are shown, if any (it may be filtered out of the table).
  const ClipDiff* selected_clip() const;
  void set_frame(int frame);
  int frame() const;
  void set_mode(FrameMode mode);
  // The camera shown: kAllCameras or an index into the clip's cameras.
  void set_camera(int camera);
  int camera() const;
  // By name, or "all"; false when the clip has no such camera.
  bool set_camera_by_name(const QString& name);
  void set_chart_series(int chart, const QString& name);
  QString chart_series(int chart) const;
  void set_histogram_metric(int metric);
  int histogram_metric() const;
  void set_filter_tag(const QString& tag);
  void set_filter_text(const QString& text);

  // `hil-viewer DB --a .. --b .. --clip .. --frame ..` reopening this view.
  QString command_line() const;
  void copy_command_line();
  // Exports; each returns the error (naming the file) or nullopt.
  std::optional<QString> export_frame_png(const QString& path);
  std::optional<QString> export_charts_png(const QString& path);
  std::optional<QString> export_table_csv(const QString& path);
  std::optional<QString> export_series_csv(const QString& path);

  // The selection and layout, under the settings' current group.
  void save_settings(QSettings& settings) const;
  void restore_layout(QSettings& settings);
  static ViewRequest saved_request(QSettings& settings);

  ClipTableModel& clip_model() { return *clip_model_; }
  QTableView& clip_table() { return *clip_table_; }
  FrameView& frame_view() { return *frame_view_; }
  TimelineView& timeline() { return *timeline_; }
  SeriesChart& chart(int i) { return *charts_.at(static_cast<size_t>(i)); }
  DeltaHistogramChart& histogram() { return *histogram_; }
  PlaybackController& playback() { return *playback_; }
  const EvalSeries* series(Side side) const;
  const EvalResults* results(Side side) const;
  ClipFrames* clip_frames() const { return clip_frames_.get(); }
  QLabel& summary() { return *summary_; }
  QLabel& chart_readout(int i) { return *chart_readouts_.at(static_cast<size_t>(i)); }

 public slots:
  void previous_clip();
  void next_clip();
  void show_key_help();

 signals:
  void status_message(const QString& message);

 private:
  void build();
  QWidget* build_pair_bar();
  QWidget* build_table_pane();
  QWidget* build_frame_pane();
  QWidget* build_charts_pane();
  void build_shortcuts();

  void fill_pickers();
  void pair_changed();
  void scope_changed();
  void load_comparison(std::optional<QString> clip, std::optional<QString> scenario,
                       std::optional<int> frame);
  void table_replaced();
  void filter_changed();
  void clip_row_changed();
  void load_clip(const ClipDiff& clip, std::optional<int> frame);
  void clear_clip(const QString& message);
  void frame_changed(int frame);
  void update_charts();
  void update_readouts();
  void update_histogram();
  void update_summary();
  void select_row(int row);
  void options_changed();
  void fill_camera_picker();
  // The shown camera's name, or "" for all of them.
  QString camera_name() const;
  void step_clip(int rows);
  QString revision_sha(int64_t id) const;
  QString revision_name(int64_t id) const;

  ResultsSource* source_ = nullptr;
  std::vector<hil::db::Store::RevisionSummary> revisions_;
  ClipTableModel* clip_model_;
  PlaybackController* playback_;

  QComboBox* a_combo_ = nullptr;
  QComboBox* b_combo_ = nullptr;
  QComboBox* scope_combo_ = nullptr;
  QComboBox* tag_combo_ = nullptr;
  QComboBox* verdict_combo_ = nullptr;
  QLineEdit* text_filter_ = nullptr;
  QComboBox* metric_combo_ = nullptr;
  QLabel* summary_ = nullptr;
  QTableView* clip_table_ = nullptr;
  DeltaHistogramChart* histogram_ = nullptr;
  FrameView* frame_view_ = nullptr;
  QButtonGroup* mode_buttons_ = nullptr;
  std::array<QToolButton*, 5> overlay_buttons_{};  // truth, lanes, objects, lead, steering
  QComboBox* camera_combo_ = nullptr;
  QToolButton* play_button_ = nullptr;
  QLabel* frame_label_ = nullptr;
  TimelineView* timeline_ = nullptr;
  QWidget* charts_pane_ = nullptr;
  std::array<QComboBox*, kCharts> chart_combos_{};
  std::array<QLabel*, kCharts> chart_readouts_{};
  QLabel* chart_legend_ = nullptr;
  std::array<SeriesChart*, kCharts> charts_{};
  QSplitter* main_splitter_ = nullptr;
  QSplitter* left_splitter_ = nullptr;
  QSplitter* right_splitter_ = nullptr;

  // The loaded clip.
  std::unique_ptr<ClipDiff> clip_;
  std::unique_ptr<ClipFrames> clip_frames_;
  EvalResults results_[2];
  bool has_results_[2] = {false, false};
  std::array<QString, kCharts> wanted_series_;  // the user's pick per chart; empty: the default
  // What load_comparison() should select once the table is read.
  std::optional<QString> pending_clip_, pending_scenario_;
  std::optional<int> pending_frame_;
  bool updating_ = false;  // filling pickers: their signals are ours
};

}  // namespace hil::viewer
