#include "compare_pane.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <QButtonGroup>
#include <QClipboard>
#include <QComboBox>
#include <QDateTime>
#include <QFile>
#include <QGuiApplication>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPixmap>
#include <QSettings>
#include <QShortcut>
#include <QSplitter>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

#include "clip_frames.h"
#include "clip_table_model.h"
#include "coloured_cell_delegate.h"
#include "csv_export.h"
#include "delta_histogram_chart.h"
#include "histogram_bins.h"
#include "playback_controller.h"
#include "revision_style.h"
#include "series_chart.h"
#include "timeline_markers.h"
#include "timeline_view.h"

namespace hil::viewer {
namespace {

constexpr int kRunsInScopePicker = 50;

QString text(const std::string& s) { return QString::fromStdString(s); }

QString revision_label(const hil::db::Store::RevisionSummary& r) {
  QStringList parts{text(r.revision.name), text(r.revision.sha256.substr(0, 12))};
  if (!r.revision.pr.empty()) parts << QStringLiteral("PR %1").arg(text(r.revision.pr));
  if (r.created_at > 0) {
    parts << QDateTime::fromSecsSinceEpoch(static_cast<qint64>(r.created_at))
                 .toString(QStringLiteral("yyyy-MM-dd HH:mm"));
  }
  parts << (r.succeeded_evals > 0 ? QStringLiteral("%1 results").arg(r.succeeded_evals)
                                  : QStringLiteral("no results"));
  return parts.join(QStringLiteral(" · "));
}

std::optional<int64_t> combo_id(const QComboBox* combo) {
  const QVariant v = combo->currentData();
  if (!v.isValid()) return std::nullopt;
  return v.toLongLong();
}

// The scope picker's data: "run:ID", "suite:ID" or "all".
QString scope_key(std::optional<int64_t> run_id, std::optional<int64_t> suite_id) {
  if (run_id.has_value()) return QStringLiteral("run:") + QString::number(run_id.value());
  if (suite_id.has_value()) return QStringLiteral("suite:") + QString::number(suite_id.value());
  return QStringLiteral("all");
}

void select_data(QComboBox* combo, const QVariant& data) {
  const int i = combo->findData(data);
  if (i >= 0) combo->setCurrentIndex(i);
}

std::optional<QString> write_file(const QString& path, const QByteArray& bytes) {
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) || file.write(bytes) != bytes.size()) {
    return QStringLiteral("%1: cannot write (%2)").arg(path, file.errorString());
  }
  return std::nullopt;
}

QToolButton* tool_button(const QString& label, const QString& tip, QWidget* parent) {
  auto* button = new QToolButton(parent);
  button->setText(label);
  button->setToolTip(tip);
  button->setAutoRaise(true);
  return button;
}

const char* kKeyHelp =
    "Space\tplay / pause at the clip's frame rate\n"
    "← / →\tprevious / next frame\n"
    "Shift+← / →\t10 frames back / forward\n"
    "Home / End\tfirst / last frame\n"
    "[ / ]\tprevious / next clip in the table\n"
    "1 / 2 / 3\tA | B side by side / overlay / flicker\n"
    "F\tflip A and B in flicker mode\n"
    "C / Shift+C\tnext / previous camera (all of them, then each)\n"
    "0\tevery camera of the clip\n"
    "D\tshow / hide the delta shading in the charts\n"
    "Ctrl+Shift+C\tcopy a command line that reopens this view\n"
    "?\tthis list\n\n"
    "Charts: wheel zooms the frames, drag pans, click goes to a frame,\n"
    "double click shows every frame; all charts share their frame axis.";

}  // namespace

ComparePane::ComparePane(QWidget* parent)
    : QWidget(parent),
      clip_model_(new ClipTableModel(this)),
      playback_(new PlaybackController(this)) {
  build();
  build_shortcuts();
  connect(clip_model_, &ClipTableModel::table_replaced, this, &ComparePane::table_replaced);
  connect(
      clip_model_, &QAbstractItemModel::modelReset, this,
      [this] {
        // A filter or sort reset the rows: show the loaded clip's row again
        // (queued: rows cannot be fetched while views handle the reset).
        if (!clip_) return;
        if (auto row = clip_model_->row_of(clip_->clip_sha, clip_->scenario)) select_row(*row);
      },
      Qt::QueuedConnection);
  connect(clip_table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          &ComparePane::clip_row_changed);
  connect(playback_, &PlaybackController::frame_changed, this, &ComparePane::frame_changed);
  connect(playback_, &PlaybackController::playing_changed, this, [this](bool playing) {
    play_button_->setText(playing ? QStringLiteral("⏸") : QStringLiteral("▶"));
  });
  connect(timeline_, &TimelineView::frame_requested, playback_, [this](int frame) {
    playback_->pause();
    playback_->set_frame(frame);
  });
  clear_clip(QStringLiteral("Open a results database to compare two revisions"));
}

ComparePane::~ComparePane() = default;

// ------------------------------------------------------------------ layout

void ComparePane::build() {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->setSpacing(4);
  layout->addWidget(build_pair_bar());

  left_splitter_ = new QSplitter(Qt::Vertical);
  left_splitter_->addWidget(build_table_pane());
  histogram_ = create_delta_histogram_chart(nullptr);
  histogram_->setObjectName(QStringLiteral("delta_histogram"));
  left_splitter_->addWidget(histogram_);
  left_splitter_->setStretchFactor(0, 3);
  left_splitter_->setStretchFactor(1, 1);

  right_splitter_ = new QSplitter(Qt::Vertical);
  right_splitter_->addWidget(build_frame_pane());
  right_splitter_->addWidget(build_charts_pane());
  right_splitter_->setStretchFactor(0, 1);
  right_splitter_->setStretchFactor(1, 1);

  main_splitter_ = new QSplitter(Qt::Horizontal);
  main_splitter_->addWidget(left_splitter_);
  main_splitter_->addWidget(right_splitter_);
  main_splitter_->setStretchFactor(0, 4);
  main_splitter_->setStretchFactor(1, 5);
  main_splitter_->setSizes({470, 730});
  left_splitter_->setSizes({480, 200});
  right_splitter_->setSizes({330, 350});
  layout->addWidget(main_splitter_, 1);
}

QWidget* ComparePane::build_pair_bar() {
  auto* bar = new QWidget;
  auto* row = new QHBoxLayout(bar);
  row->setContentsMargins(0, 0, 0, 0);
  auto label = [&](const QString& s, QColor colour = QColor()) {
    auto* l = new QLabel(s);
    if (colour.isValid()) {
      QFont bold = l->font();
      bold.setBold(true);
      l->setFont(bold);
      l->setStyleSheet(QStringLiteral("color: %1").arg(colour.name()));
    }
    row->addWidget(l);
  };
  auto combo = [&](const QString& name, const QString& tip) {
    auto* c = new QComboBox;
    c->setObjectName(name);
    c->setToolTip(tip);
    c->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    c->setMinimumContentsLength(22);
    row->addWidget(c, 1);
    return c;
  };
  label(QStringLiteral("A"), side_colour(Side::kA));
  a_combo_ =
      combo(QStringLiteral("revision_a"),
            QStringLiteral("Revision A, the reference (blue): name · hash · PR · date · results"));
  auto* swap = tool_button(QStringLiteral("⇄"), QStringLiteral("Swap A and B"), bar);
  row->addWidget(swap);
  label(QStringLiteral("B"), side_colour(Side::kB));
  b_combo_ = combo(QStringLiteral("revision_b"),
                   QStringLiteral("Revision B, compared with A (orange): deltas are B - A"));
  label(QStringLiteral("over"));
  scope_combo_ =
      combo(QStringLiteral("scope"),
            QStringLiteral("Which results: one run, one suite's runs, or every result of the two "
                           "revisions (the latest eval per clip and scenario)"));
  connect(a_combo_, &QComboBox::currentIndexChanged, this, [this] { pair_changed(); });
  connect(b_combo_, &QComboBox::currentIndexChanged, this, [this] { pair_changed(); });
  connect(scope_combo_, &QComboBox::currentIndexChanged, this, [this] { scope_changed(); });
  connect(swap, &QToolButton::clicked, this, [this] {
    const auto a = combo_id(a_combo_), b = combo_id(b_combo_);
    if (!a || !b) return;
    updating_ = true;
    select_data(a_combo_, QVariant::fromValue<qlonglong>(*b));
    select_data(b_combo_, QVariant::fromValue<qlonglong>(*a));
    updating_ = false;
    pair_changed();
  });
  return bar;
}

QWidget* ComparePane::build_table_pane() {
  auto* pane = new QWidget;
  auto* layout = new QVBoxLayout(pane);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(3);

  auto* filters = new QHBoxLayout;
  tag_combo_ = new QComboBox;
  tag_combo_->setObjectName(QStringLiteral("tag_filter"));
  tag_combo_->setToolTip(
      QStringLiteral("Only clips with this tag: a condition (snow, fog, ...), road:, traffic: "
                     "or class: (object classes in the clip)"));
  tag_combo_->addItem(QStringLiteral("any tag"), QString());
  verdict_combo_ = new QComboBox;
  verdict_combo_->setObjectName(QStringLiteral("verdict_filter"));
  verdict_combo_->setToolTip(QStringLiteral("Only regressed, improved or unchanged clips"));
  verdict_combo_->addItem(QStringLiteral("any verdict"), -1);
  for (ClipVerdict v : {ClipVerdict::kRegressed, ClipVerdict::kImproved, ClipVerdict::kUnchanged}) {
    verdict_combo_->addItem(QLatin1String(clip_verdict_name(v)), static_cast<int>(v));
  }
  text_filter_ = new QLineEdit;
  text_filter_->setObjectName(QStringLiteral("text_filter"));
  text_filter_->setPlaceholderText(QStringLiteral("filter: name, hash, tag…"));
  text_filter_->setClearButtonEnabled(true);
  text_filter_->setToolTip(
      QStringLiteral("Only clips whose name, hash, scenario or tags contain this text"));
  filters->addWidget(tag_combo_);
  filters->addWidget(verdict_combo_);
  filters->addWidget(text_filter_, 1);
  layout->addLayout(filters);
  connect(tag_combo_, &QComboBox::currentIndexChanged, this, [this] { filter_changed(); });
  connect(verdict_combo_, &QComboBox::currentIndexChanged, this, [this] { filter_changed(); });
  connect(text_filter_, &QLineEdit::textChanged, this, [this] { filter_changed(); });

  summary_ = new QLabel;
  summary_->setObjectName(QStringLiteral("compare_summary"));
  summary_->setWordWrap(true);
  summary_->setTextFormat(Qt::PlainText);
  layout->addWidget(summary_);

  clip_table_ = new QTableView;
  clip_table_->setObjectName(QStringLiteral("clip_table"));
  clip_table_->setModel(clip_model_);
  clip_table_->setItemDelegate(new ColouredCellDelegate(clip_table_));
  clip_table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  clip_table_->setSelectionMode(QAbstractItemView::SingleSelection);
  clip_table_->setWordWrap(false);
  clip_table_->setSortingEnabled(true);
  clip_table_->verticalHeader()->hide();
  clip_table_->verticalHeader()->setDefaultSectionSize(clip_table_->fontMetrics().height() + 6);
  clip_table_->horizontalHeader()->setHighlightSections(false);
  clip_table_->horizontalHeader()->setSortIndicator(ClipTableModel::kWorst, Qt::DescendingOrder);
  clip_table_->setToolTip(
      QStringLiteral("One row per clip: A's and B's value and the delta (B - A) of each gating "
                     "metric, red where B is worse, green where better. [ and ] move "
                     "between clips."));
  // Sorting by a metric's column shows that metric's histogram.
  connect(clip_table_->horizontalHeader(), &QHeaderView::sectionClicked, this, [this](int column) {
    const int metric = clip_model_->metric_of_column(column);
    if (metric >= 0) set_histogram_metric(metric);
  });
  layout->addWidget(clip_table_, 1);

  auto* metric_row = new QHBoxLayout;
  metric_row->addWidget(new QLabel(QStringLiteral("Histogram of")));
  metric_combo_ = new QComboBox;
  metric_combo_->setObjectName(QStringLiteral("histogram_metric"));
  metric_combo_->setToolTip(QStringLiteral("The metric whose per-clip deltas the histogram shows"));
  metric_row->addWidget(metric_combo_, 1);
  layout->addLayout(metric_row);
  connect(metric_combo_, &QComboBox::currentIndexChanged, this, [this] {
    if (!updating_) update_histogram();
  });
  return pane;
}

QWidget* ComparePane::build_frame_pane() {
  auto* pane = new QWidget;
  auto* layout = new QVBoxLayout(pane);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(2);

  auto* tools = new QHBoxLayout;
  mode_buttons_ = new QButtonGroup(this);
  mode_buttons_->setExclusive(true);
  const std::pair<FrameMode, const char*> modes[] = {{FrameMode::kSideBySide, "A | B"},
                                                     {FrameMode::kOverlay, "Overlay"},
                                                     {FrameMode::kFlicker, "Flicker"}};
  const char* mode_tips[] = {"A and B side by side (1)", "A and B over one frame (2)",
                             "One revision at a time; F flips between A and B (3)"};
  for (int i = 0; i < 3; ++i) {
    auto* button = tool_button(QLatin1String(modes[i].second), QLatin1String(mode_tips[i]), pane);
    button->setCheckable(true);
    button->setChecked(i == 0);
    mode_buttons_->addButton(button, static_cast<int>(modes[i].first));
    tools->addWidget(button);
  }
  connect(mode_buttons_, &QButtonGroup::idClicked, this,
          [this](int id) { set_mode(static_cast<FrameMode>(id)); });
  tools->addSpacing(12);
  const char* overlay_names[] = {"Truth", "Lanes", "Objects", "Lead", "Steering"};
  const char* overlay_tips[] = {
      "The ground truth: lane lines, objects and steering (off: A's and B's outputs only)",
      "Lane lines: the truth (green; road edges yellow) and A's and B's lanes heads",
      "Objects: labelled cuboids and boxes (red; fully occluded dashed, ignored regions dotted) "
      "and A's and B's detections (2D boxes on their camera, 3D cuboids on every camera)",
      "A's and B's lead vehicle at the distance their lead head says, in the true ego lane",
      "Steering needles of A's and B's control heads and the ground truth (white)"};
  for (size_t i = 0; i < overlay_buttons_.size(); ++i) {
    overlay_buttons_[i] =
        tool_button(QLatin1String(overlay_names[i]), QLatin1String(overlay_tips[i]), pane);
    overlay_buttons_[i]->setCheckable(true);
    overlay_buttons_[i]->setChecked(true);
    connect(overlay_buttons_[i], &QToolButton::toggled, this, [this] { options_changed(); });
    tools->addWidget(overlay_buttons_[i]);
  }
  tools->addSpacing(12);
  camera_combo_ = new QComboBox(pane);
  camera_combo_->setObjectName(QStringLiteral("camera_picker"));
  camera_combo_->setToolTip(
      QStringLiteral("Every camera of the clip in a grid (0), or one of them (C cycles)"));
  camera_combo_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  connect(camera_combo_, &QComboBox::currentIndexChanged, this, [this] {
    if (!updating_) set_camera(camera_combo_->currentData().toInt());
  });
  tools->addWidget(camera_combo_);
  tools->addStretch(1);
  layout->addLayout(tools);

  frame_view_ = new FrameView;
  frame_view_->setObjectName(QStringLiteral("frame_view"));
  layout->addWidget(frame_view_, 1);
  connect(frame_view_, &FrameView::mode_changed, this, [this](FrameMode mode) {
    if (auto* button = mode_buttons_->button(static_cast<int>(mode))) button->setChecked(true);
  });
  connect(frame_view_, &FrameView::camera_changed, this, [this](int camera) {
    updating_ = true;
    select_data(camera_combo_, camera);
    updating_ = false;
  });

  auto* transport = new QHBoxLayout;
  play_button_ = tool_button(
      QStringLiteral("▶"), QStringLiteral("Play or pause at the clip's frame rate (Space)"), pane);
  play_button_->setObjectName(QStringLiteral("play_button"));
  connect(play_button_, &QToolButton::clicked, playback_, &PlaybackController::toggle_play);
  transport->addWidget(play_button_);
  timeline_ = new TimelineView;
  timeline_->setObjectName(QStringLiteral("timeline"));
  transport->addWidget(timeline_, 1);
  frame_label_ = new QLabel;
  frame_label_->setObjectName(QStringLiteral("frame_label"));
  frame_label_->setMinimumWidth(
      frame_label_->fontMetrics().horizontalAdvance(QStringLiteral("frame 00000/00000")));
  frame_label_->setToolTip(
      QStringLiteral("The current frame, the clip's frames and the time from its start"));
  transport->addWidget(frame_label_);
  layout->addLayout(transport);
  return pane;
}

QWidget* ComparePane::build_charts_pane() {
  charts_pane_ = new QWidget;
  charts_pane_->setObjectName(QStringLiteral("charts"));
  auto* layout = new QVBoxLayout(charts_pane_);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(0);
  // One legend for all charts.
  chart_legend_ = new QLabel;
  chart_legend_->setObjectName(QStringLiteral("chart_legend"));
  chart_legend_->setTextFormat(Qt::RichText);
  chart_legend_->setToolTip(QStringLiteral("D shows or hides the shaded delta between A and B"));
  layout->addWidget(chart_legend_);
  for (int i = 0; i < kCharts; ++i) {
    auto* header = new QHBoxLayout;
    header->setContentsMargins(0, 2, 0, 0);
    auto* combo = new QComboBox;
    combo->setObjectName(QStringLiteral("chart_series_%1").arg(i));
    combo->setToolTip(QStringLiteral("The per-frame series this chart shows for A and B"));
    combo->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    chart_combos_[static_cast<size_t>(i)] = combo;
    auto* readout = new QLabel;
    readout->setObjectName(QStringLiteral("chart_readout_%1").arg(i));
    readout->setToolTip(QStringLiteral("The values at the current frame (exact, never decimated)"));
    chart_readouts_[static_cast<size_t>(i)] = readout;
    header->addWidget(combo);
    header->addWidget(readout, 1);
    layout->addLayout(header);
    auto* chart = create_series_chart(nullptr);
    chart->setObjectName(QStringLiteral("series_chart_%1").arg(i));
    charts_[static_cast<size_t>(i)] = chart;
    layout->addWidget(chart, 1);
    connect(combo, &QComboBox::currentIndexChanged, this, [this, i] {
      if (updating_) return;
      wanted_series_[static_cast<size_t>(i)] = chart_combos_[static_cast<size_t>(i)]->currentText();
      update_charts();
    });
    connect(chart, &SeriesChart::frame_clicked, playback_, [this](int frame) {
      playback_->pause();
      playback_->set_frame(frame);
    });
    // Linked frame axes: a zoom or pan in one chart moves the others.
    connect(chart, &SeriesChart::frame_range_changed, this,
            [this, chart](double first, double last) {
              for (SeriesChart* other : charts_) {
                if (other != chart) other->set_frame_range(first, last);
              }
            });
  }
  return charts_pane_;
}

void ComparePane::build_shortcuts() {
  auto add = [this](const QKeySequence& keys, auto&& action) {
    auto* shortcut = new QShortcut(keys, this);
    shortcut->setContext(Qt::WindowShortcut);  // inactive while the pane is hidden
    connect(shortcut, &QShortcut::activated, this, action);
  };
  add(QKeySequence(Qt::Key_Space), [this] { playback_->toggle_play(); });
  add(QKeySequence(Qt::Key_Left), [this] { playback_->step(-1); });
  add(QKeySequence(Qt::Key_Right), [this] { playback_->step(1); });
  add(QKeySequence(Qt::SHIFT | Qt::Key_Left), [this] { playback_->step(-10); });
  add(QKeySequence(Qt::SHIFT | Qt::Key_Right), [this] { playback_->step(10); });
  add(QKeySequence(Qt::Key_Home), [this] { playback_->step(-playback_->frame_count()); });
  add(QKeySequence(Qt::Key_End), [this] { playback_->step(playback_->frame_count()); });
  add(QKeySequence(Qt::Key_BracketLeft), [this] { previous_clip(); });
  add(QKeySequence(Qt::Key_BracketRight), [this] { next_clip(); });
  add(QKeySequence(Qt::Key_1), [this] { set_mode(FrameMode::kSideBySide); });
  add(QKeySequence(Qt::Key_2), [this] { set_mode(FrameMode::kOverlay); });
  add(QKeySequence(Qt::Key_3), [this] { set_mode(FrameMode::kFlicker); });
  add(QKeySequence(Qt::Key_F), [this] { frame_view_->flip_flicker_side(); });
  add(QKeySequence(Qt::Key_C), [this] { frame_view_->cycle_camera(1); });
  add(QKeySequence(Qt::SHIFT | Qt::Key_C), [this] { frame_view_->cycle_camera(-1); });
  add(QKeySequence(Qt::Key_0), [this] { set_camera(kAllCameras); });
  add(QKeySequence(Qt::Key_D), [this] {
    for (SeriesChart* chart : charts_) chart->set_delta_shading(!chart->delta_shading());
  });
  add(QKeySequence(Qt::Key_Question), [this] { show_key_help(); });
  add(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C), [this] { copy_command_line(); });
}

// ------------------------------------------------------------------ source and pickers

QStringList ComparePane::set_source(ResultsSource* source, const ViewRequest& request) {
  source_ = source;
  playback_->pause();
  clip_.reset();
  clip_frames_.reset();
  if (source_ == nullptr) {
    clip_model_->show(nullptr, std::nullopt);
    clear_clip(QStringLiteral("Open a results database to compare two revisions"));
    return {};
  }
  try {
    fill_pickers();
  } catch (const hil::db::DbError& e) {
    emit status_message(
        QStringLiteral("Cannot read revisions: %1").arg(QString::fromUtf8(e.what())));
    return {QString::fromUtf8(e.what())};
  }
  return apply(request);
}

void ComparePane::fill_pickers() {
  revisions_ = source_->revisions();
  const auto suites = source_->suites();
  const auto runs = source_->compared_runs(kRunsInScopePicker);
  const auto keep_a = a_combo_->currentData(), keep_b = b_combo_->currentData();
  const auto keep_scope = scope_combo_->currentData();
  updating_ = true;
  a_combo_->clear();
  b_combo_->clear();
  for (const auto& r : revisions_) {
    const QString label = revision_label(r);
    a_combo_->addItem(label, QVariant::fromValue<qlonglong>(r.revision.id));
    b_combo_->addItem(label, QVariant::fromValue<qlonglong>(r.revision.id));
  }
  scope_combo_->clear();
  scope_combo_->addItem(QStringLiteral("all results of A and B"), QStringLiteral("all"));
  for (const auto& s : suites) {
    scope_combo_->addItem(QStringLiteral("suite %1").arg(text(s.name)),
                          QStringLiteral("suite:%1").arg(s.id));
  }
  for (const auto& run : runs) {
    scope_combo_->addItem(QStringLiteral("run %1 · %2 · %3 vs %4")
                              .arg(run.id)
                              .arg(text(run.label), text(run.candidate), text(run.baseline)),
                          QStringLiteral("run:%1").arg(run.id));
  }
  if (keep_a.isValid()) select_data(a_combo_, keep_a);
  if (keep_b.isValid()) select_data(b_combo_, keep_b);
  if (keep_scope.isValid()) select_data(scope_combo_, keep_scope);
  updating_ = false;
}

QStringList ComparePane::apply(const ViewRequest& request) {
  QStringList problems;
  if (source_ == nullptr) return {QStringLiteral("no results database is open")};
  std::optional<int64_t> a, b;
  std::optional<int64_t> run_id = request.run_id;
  std::optional<int64_t> suite_id = request.suite_id;
  try {
    if (run_id) {
      const auto run = source_->run_revisions(*run_id);
      if (!run) {
        problems << QStringLiteral("no run %1").arg(*run_id);
        run_id.reset();
      } else {
        a = run->baseline_id;
        b = run->candidate_id;
      }
    }
    if (!request.revision_a.isEmpty()) {
      a = resolve_revision(revisions_, request.revision_a);
      if (!a)
        problems << QStringLiteral("no revision '%1' (give a name or a hash prefix)")
                        .arg(request.revision_a);
    }
    if (!request.revision_b.isEmpty()) {
      b = resolve_revision(revisions_, request.revision_b);
      if (!b)
        problems << QStringLiteral("no revision '%1' (give a name or a hash prefix)")
                        .arg(request.revision_b);
    }
    if ((!a || !b) && request.revision_a.isEmpty() && request.revision_b.isEmpty() && !run_id) {
      // The first screen: the newest run that compared two revisions.
      for (const auto& run : source_->compared_runs(1)) {
        const auto revs = source_->run_revisions(run.id);
        if (!revs || !revs->baseline_id) continue;
        a = revs->baseline_id;
        b = revs->candidate_id;
        run_id = run.id;
      }
    }
    if ((!a || !b) && revisions_.size() >= 2 && request.revision_a.isEmpty() &&
        request.revision_b.isEmpty()) {
      b = revisions_[0].revision.id;  // newest
      a = revisions_[1].revision.id;
    }
  } catch (const hil::db::DbError& e) {
    problems << QString::fromUtf8(e.what());
  }
  if (!a || !b) {
    clip_model_->show(nullptr, std::nullopt);
    clear_clip(revisions_.size() < 2
                   ? QStringLiteral("This database has fewer than two revisions to compare")
                   : QStringLiteral("Pick revisions A and B"));
    update_summary();
    return problems;
  }
  updating_ = true;
  select_data(a_combo_, QVariant::fromValue<qlonglong>(*a));
  select_data(b_combo_, QVariant::fromValue<qlonglong>(*b));
  select_data(scope_combo_, scope_key(run_id, suite_id));
  updating_ = false;
  if (request.mode) set_mode(*request.mode);
  load_comparison(
      request.clip.isEmpty() ? std::nullopt : std::optional<QString>(request.clip),
      request.scenario.isEmpty() ? std::nullopt : std::optional<QString>(request.scenario),
      request.frame);
  if (!request.camera.isEmpty() && !set_camera_by_name(request.camera)) {
    problems << QStringLiteral("no camera '%1' in the clip shown").arg(request.camera);
  }
  if (!request.clip.isEmpty()) {
    const ClipDiff* shown = selected_clip();
    if (shown == nullptr || !text(shown->clip_sha).startsWith(request.clip.toLower())) {
      problems
          << QStringLiteral("no clip %1 among the results of this comparison").arg(request.clip);
    }
  }
  return problems;
}

std::optional<Comparison> ComparePane::comparison() const {
  const auto a = combo_id(a_combo_), b = combo_id(b_combo_);
  if (!a || !b) return std::nullopt;
  Comparison c;
  c.revision_a = *a;
  c.revision_b = *b;
  const QString scope = scope_combo_->currentData().toString();
  if (scope.startsWith(QLatin1String("run:"))) c.run_id = scope.mid(4).toLongLong();
  if (scope.startsWith(QLatin1String("suite:"))) c.suite_id = scope.mid(6).toLongLong();
  return c;
}

bool ComparePane::set_comparison(const Comparison& comparison) {
  if (a_combo_->findData(QVariant::fromValue<qlonglong>(comparison.revision_a)) < 0 ||
      b_combo_->findData(QVariant::fromValue<qlonglong>(comparison.revision_b)) < 0) {
    emit status_message(QStringLiteral("No such revision"));
    return false;
  }
  updating_ = true;
  select_data(a_combo_, QVariant::fromValue<qlonglong>(comparison.revision_a));
  select_data(b_combo_, QVariant::fromValue<qlonglong>(comparison.revision_b));
  select_data(scope_combo_, scope_key(comparison.run_id, comparison.suite_id));
  updating_ = false;
  load_comparison(std::nullopt, std::nullopt, std::nullopt);
  return true;
}

void ComparePane::pair_changed() {
  if (updating_ || source_ == nullptr) return;
  load_comparison(std::nullopt, std::nullopt, std::nullopt);
}

void ComparePane::scope_changed() {
  if (updating_ || source_ == nullptr) return;
  // A run brings its own pair: its baseline as A, its candidate as B.
  const QString scope = scope_combo_->currentData().toString();
  if (scope.startsWith(QLatin1String("run:"))) {
    try {
      const auto run = source_->run_revisions(scope.mid(4).toLongLong());
      if (run && run->baseline_id) {
        updating_ = true;
        select_data(a_combo_, QVariant::fromValue<qlonglong>(*run->baseline_id));
        select_data(b_combo_, QVariant::fromValue<qlonglong>(run->candidate_id));
        updating_ = false;
      }
    } catch (const hil::db::DbError& e) {
      emit status_message(
          QStringLiteral("Cannot read the run: %1").arg(QString::fromUtf8(e.what())));
    }
  }
  load_comparison(std::nullopt, std::nullopt, std::nullopt);
}

void ComparePane::load_comparison(std::optional<QString> clip, std::optional<QString> scenario,
                                  std::optional<int> frame) {
  pending_clip_ = clip;
  pending_scenario_ = scenario;
  pending_frame_ = frame;
  try {
    clip_model_->show(source_, comparison());  // table_replaced() selects the clip
  } catch (const hil::db::DbError& e) {
    emit status_message(
        QStringLiteral("Cannot read the comparison: %1").arg(QString::fromUtf8(e.what())));
  }
  pending_clip_.reset();
  pending_scenario_.reset();
  pending_frame_.reset();
}

// ------------------------------------------------------------------ table

void ComparePane::table_replaced() {
  const DiffTable& table = clip_model_->table();
  updating_ = true;
  // Tags: conditions first, then the prefixed ones (road:, traffic:, class:, lanes:).
  const QString keep_tag = tag_combo_->currentData().toString();
  tag_combo_->clear();
  tag_combo_->addItem(QStringLiteral("any tag"), QString());
  std::vector<std::string> tags = table.tags;
  std::stable_partition(tags.begin(), tags.end(),
                        [](const std::string& t) { return t.find(':') == std::string::npos; });
  for (const auto& t : tags) tag_combo_->addItem(text(t), text(t));
  if (!keep_tag.isEmpty() && tag_combo_->findData(keep_tag) < 0)
    tag_combo_->addItem(keep_tag, keep_tag);
  select_data(tag_combo_, keep_tag);
  const QString keep_metric = metric_combo_->currentText();
  metric_combo_->clear();
  for (const auto& m : table.metrics) metric_combo_->addItem(text(m.name));
  const int metric = metric_combo_->findText(keep_metric);
  metric_combo_->setCurrentIndex(metric >= 0 ? metric : 0);
  updating_ = false;

  clip_table_->horizontalHeader()->setSortIndicator(clip_model_->sort_column(),
                                                    clip_model_->sort_order());
  clip_table_->resizeColumnsToContents();
  QHeaderView* header = clip_table_->horizontalHeader();
  header->resizeSection(ClipTableModel::kClip,
                        std::min(header->sectionSize(ClipTableModel::kClip), 230));
  header->resizeSection(clip_model_->tags_column(),
                        std::min(header->sectionSize(clip_model_->tags_column()), 260));
  update_summary();

  // Which clip: the one asked for, else the one shown, else the worst.
  std::optional<int> row;
  if (pending_clip_) {
    const std::string prefix = pending_clip_->toLower().toStdString();
    for (int r = 0; r < clip_model_->filtered_count() && !row; ++r) {
      const ClipDiff& c = clip_model_->clip_at(r);
      if (c.clip_sha.rfind(prefix, 0) == 0 &&
          (!pending_scenario_ || text(c.scenario) == *pending_scenario_))
        row = r;
    }
    if (row) clip_model_->fetch_up_to(*row);
  } else if (clip_) {
    row = clip_model_->row_of(clip_->clip_sha, clip_->scenario);
  }
  if (!row && !pending_clip_ && clip_model_->filtered_count() > 0) row = 0;
  if (row) {
    select_row(*row);
  } else if (clip_model_->filtered_count() == 0) {
    clear_clip(QStringLiteral("No clip has results of both A and B here"));
  }
  update_histogram();
}

void ComparePane::filter_changed() {
  if (updating_) return;
  ClipFilter filter;
  filter.tag = tag_combo_->currentData().toString().toStdString();
  filter.text = text_filter_->text().toStdString();
  const int verdict = verdict_combo_->currentData().toInt();
  if (verdict >= 0) filter.verdict = static_cast<ClipVerdict>(verdict);
  clip_model_->set_filter(filter);
  update_summary();
  update_histogram();
}

void ComparePane::set_filter_tag(const QString& tag) {
  const int i = tag_combo_->findData(tag);
  if (i >= 0) tag_combo_->setCurrentIndex(i);
}

void ComparePane::set_filter_text(const QString& filter) { text_filter_->setText(filter); }

void ComparePane::select_row(int row) {
  if (row < 0 || row >= clip_model_->filtered_count()) return;
  clip_model_->fetch_up_to(row);
  const QModelIndex index = clip_model_->index(row, ClipTableModel::kClip);
  clip_table_->selectionModel()->setCurrentIndex(
      index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  clip_table_->scrollTo(index);
}

void ComparePane::clip_row_changed() {
  const QModelIndex current = clip_table_->selectionModel()->currentIndex();
  if (!current.isValid()) return;  // a reset: the loaded clip stays
  const ClipDiff& row = clip_model_->clip_at(current.row());
  std::optional<int> frame = pending_frame_;
  pending_frame_.reset();
  if (clip_ && clip_->clip_sha == row.clip_sha && clip_->scenario == row.scenario) {
    if (clip_->eval_a == row.eval_a && clip_->eval_b == row.eval_b) {
      *clip_ = row;  // same results; values may have been re-read
      if (frame) playback_->set_frame(*frame);
      return;
    }
    if (!frame) frame = playback_->frame();  // new results of the same clip: stay on the frame
  }
  load_clip(row, frame);
}

bool ComparePane::select_clip(const QString& sha_or_prefix, const QString& scenario) {
  const std::string prefix = sha_or_prefix.toLower().toStdString();
  if (prefix.empty()) return false;
  for (int r = 0; r < clip_model_->filtered_count(); ++r) {
    const ClipDiff& c = clip_model_->clip_at(r);
    if (c.clip_sha.rfind(prefix, 0) == 0 && (scenario.isEmpty() || text(c.scenario) == scenario)) {
      select_row(r);
      return true;
    }
  }
  return false;
}

const ClipDiff* ComparePane::selected_clip() const { return clip_.get(); }

void ComparePane::previous_clip() { step_clip(-1); }
void ComparePane::next_clip() { step_clip(1); }

void ComparePane::step_clip(int rows) {
  if (clip_model_->filtered_count() == 0) return;
  const QModelIndex current = clip_table_->selectionModel()->currentIndex();
  const int row = current.isValid() ? current.row() + rows : 0;
  select_row(std::clamp(row, 0, clip_model_->filtered_count() - 1));
}

void ComparePane::update_summary() {
  const DiffTable& table = clip_model_->table();
  if (!clip_model_->comparison()) {
    summary_->setText(QStringLiteral("No comparison"));
    return;
  }
  if (table.clips.empty()) {
    summary_->setText(QStringLiteral("No clip has results of both A and B in this scope"));
    return;
  }
  int regressed = 0, improved = 0;
  for (const auto& c : table.clips) {
    regressed += c.verdict == ClipVerdict::kRegressed;
    improved += c.verdict == ClipVerdict::kImproved;
  }
  QString shown;
  if (clip_model_->filtered_count() != static_cast<int>(table.clips.size())) {
    shown = QStringLiteral(" · %1 shown").arg(clip_model_->filtered_count());
  }
  summary_->setText(QStringLiteral("%1 clips paired: %2 regressed, %3 improved, %4 unchanged%5")
                        .arg(table.clips.size())
                        .arg(regressed)
                        .arg(improved)
                        .arg(static_cast<int>(table.clips.size()) - regressed - improved)
                        .arg(shown));
}

void ComparePane::set_histogram_metric(int metric) {
  if (metric >= 0 && metric < metric_combo_->count()) metric_combo_->setCurrentIndex(metric);
}

int ComparePane::histogram_metric() const { return metric_combo_->currentIndex(); }

void ComparePane::update_histogram() {
  const DiffTable& table = clip_model_->table();
  const int m = metric_combo_->currentIndex();
  if (m < 0 || static_cast<size_t>(m) >= table.metrics.size() ||
      clip_model_->filtered_count() == 0) {
    histogram_->show_message(QStringLiteral("No clips to chart"));
    return;
  }
  const DiffMetric& metric = table.metrics[static_cast<size_t>(m)];
  std::vector<double> deltas;
  int worse = 0, better = 0;
  for (int r = 0; r < clip_model_->filtered_count(); ++r) {
    const MetricDiff& d = clip_model_->clip_at(r).metrics[static_cast<size_t>(m)];
    if (!d.present) continue;
    deltas.push_back(d.delta);
    worse += badness(metric, d.delta) > 0;
    better += badness(metric, d.delta) < 0;
  }
  std::optional<double> marked;
  if (clip_ && static_cast<size_t>(m) < clip_->metrics.size() &&
      clip_->metrics[static_cast<size_t>(m)].present) {
    marked = clip_->metrics[static_cast<size_t>(m)].delta;
  }
  histogram_->show_histogram(QStringLiteral("%1 over %2 clips: B worse on %3, better on %4")
                                 .arg(text(metric.name))
                                 .arg(deltas.size())
                                 .arg(worse)
                                 .arg(better),
                             text(metric.unit), delta_histogram(deltas, metric.direction), marked);
}

// ------------------------------------------------------------------ clip

void ComparePane::clear_clip(const QString& message) {
  playback_->pause();
  clip_.reset();
  frame_view_->set_clip(nullptr);
  frame_view_->set_results(nullptr, nullptr);
  clip_frames_.reset();
  has_results_[0] = has_results_[1] = false;
  fill_camera_picker();
  frame_view_->set_message(message);
  timeline_->set_clip(0, 30);
  playback_->set_clip(0, 30);
  frame_label_->clear();
  for (SeriesChart* chart : charts_) chart->show_message(message);
}

const EvalSeries* ComparePane::series(Side side) const {
  const EvalResults* r = results(side);
  return r != nullptr ? &r->series : nullptr;
}

const EvalResults* ComparePane::results(Side side) const {
  const int i = static_cast<int>(side);
  return has_results_[i] ? &results_[i] : nullptr;
}

QString ComparePane::revision_sha(int64_t id) const {
  for (const auto& r : revisions_) {
    if (r.revision.id == id) return text(r.revision.sha256);
  }
  return QString();
}

QString ComparePane::revision_name(int64_t id) const {
  for (const auto& r : revisions_) {
    if (r.revision.id == id) return text(r.revision.name);
  }
  return QStringLiteral("revision %1").arg(id);
}

void ComparePane::load_clip(const ClipDiff& clip, std::optional<int> frame) {
  playback_->pause();
  clip_ = std::make_unique<ClipDiff>(clip);
  // Drop the old clip's frames before the view can paint them again.
  frame_view_->set_clip(nullptr);
  clip_frames_.reset();
  QString frames_error;
  try {
    clip_frames_ = std::make_unique<ClipFrames>(source_->blob_dir(), clip.clip_sha);
  } catch (const std::exception& e) {
    frames_error = QString::fromUtf8(e.what());
  }
  const int64_t evals[2] = {clip.eval_a, clip.eval_b};
  QStringList errors;
  for (int i = 0; i < 2; ++i) {
    // Series and outputs are read once per eval and kept while the clip is
    // shown (a refresh with the same evals keeps them, clip_row_changed()).
    try {
      results_[i] = source_->eval_results(evals[i]);
      has_results_[i] = true;
      if (!results_[i].outputs_error.empty()) {
        errors << QString::fromStdString(results_[i].outputs_error);
      }
    } catch (const std::exception& e) {
      results_[i] = EvalResults();
      has_results_[i] = false;
      errors << QString::fromUtf8(e.what());
    }
  }
  std::optional<hil::db::ClipRow> row;
  try {
    row = source_->clip(clip.clip_sha);
  } catch (const hil::db::DbError& e) {
    errors << QString::fromUtf8(e.what());
  }
  double fps = row ? row->fps : 0;
  if (fps <= 0 && clip_frames_) fps = clip_frames_->header().fps();
  if (fps <= 0) fps = 30;
  int frames = 0;
  if (clip_frames_) {
    frames = static_cast<int>(clip_frames_->frame_count());
  } else {
    frames = static_cast<int>(std::max(
        {row ? row->frames : 0u, results_[0].series.frames(), results_[1].series.frames()}));
  }
  const auto comparison = clip_model_->comparison();
  if (comparison) {
    frame_view_->set_revision_names(revision_name(comparison->revision_a),
                                    revision_name(comparison->revision_b));
  }
  frame_view_->set_results(results(Side::kA), results(Side::kB));
  frame_view_->set_clip(clip_frames_.get());
  fill_camera_picker();
  if (!clip_frames_) {
    frame_view_->set_message(
        QStringLiteral("No frames to show for %1:\n%2").arg(text(clip.clip_name), frames_error));
  }
  timeline_->set_clip(frames, fps);
  std::vector<TimelineMarker> markers;
  for (Side side : {Side::kA, Side::kB}) {
    if (const EvalSeries* s = series(side)) {
      auto found = timeline_markers(*s, side, fps);
      markers.insert(markers.end(), found.begin(), found.end());
    }
  }
  timeline_->set_markers(std::move(markers));
  update_charts();
  playback_->set_clip(frames, fps, frame.value_or(0));
  update_histogram();
  if (!errors.isEmpty()) emit status_message(errors.join(QStringLiteral("; ")));
}

void ComparePane::frame_changed(int frame) {
  frame_view_->set_frame(frame);
  timeline_->set_frame(frame);
  for (SeriesChart* chart : charts_) chart->set_cursor(frame);
  update_readouts();
  const double fps = playback_->fps();
  frame_label_->setText(QStringLiteral("frame %1/%2 · %3 s")
                            .arg(frame)
                            .arg(playback_->frame_count())
                            .arg(fps > 0 ? frame / fps : 0.0, 0, 'f', 2));
}

int ComparePane::frame() const { return playback_->frame(); }

void ComparePane::set_frame(int frame) {
  playback_->pause();
  playback_->set_frame(frame);
}

void ComparePane::set_mode(FrameMode mode) { frame_view_->set_mode(mode); }

void ComparePane::options_changed() {
  OverlayOptions options;
  options.truth = overlay_buttons_[0]->isChecked();
  options.lanes = overlay_buttons_[1]->isChecked();
  options.objects = overlay_buttons_[2]->isChecked();
  options.lead = overlay_buttons_[3]->isChecked();
  options.steering = overlay_buttons_[4]->isChecked();
  frame_view_->set_options(options);
}

// ------------------------------------------------------------------ cameras

void ComparePane::fill_camera_picker() {
  updating_ = true;
  camera_combo_->clear();
  camera_combo_->addItem(QStringLiteral("all cameras"), kAllCameras);
  if (clip_frames_) {
    const auto& header = clip_frames_->header();
    for (int c = 0; c < header.cameras_size(); ++c) {
      camera_combo_->addItem(text(header.cameras(c).name()), c);
    }
  }
  // One camera needs no picker.
  camera_combo_->setEnabled(camera_combo_->count() > 2);
  select_data(camera_combo_, frame_view_->camera());
  updating_ = false;
}

void ComparePane::set_camera(int camera) { frame_view_->set_camera(camera); }

int ComparePane::camera() const { return frame_view_->camera(); }

bool ComparePane::set_camera_by_name(const QString& name) {
  if (name.compare(QLatin1String("all"), Qt::CaseInsensitive) == 0) {
    set_camera(kAllCameras);
    return true;
  }
  if (!clip_frames_) return false;
  const auto& header = clip_frames_->header();
  for (int c = 0; c < header.cameras_size(); ++c) {
    if (text(header.cameras(c).name()) == name) {
      set_camera(c);
      return true;
    }
  }
  return false;
}

QString ComparePane::camera_name() const {
  const int c = camera();
  if (c < 0 || !clip_frames_ || c >= clip_frames_->header().cameras_size()) return QString();
  return text(clip_frames_->header().cameras(c).name());
}

// ------------------------------------------------------------------ charts

void ComparePane::set_chart_series(int chart, const QString& name) {
  if (chart < 0 || chart >= kCharts) return;
  wanted_series_[static_cast<size_t>(chart)] = name;
  update_charts();
}

QString ComparePane::chart_series(int chart) const {
  return chart >= 0 && chart < kCharts ? charts_[static_cast<size_t>(chart)]->shown().name
                                       : QString();
}

void ComparePane::update_charts() {
  const EvalSeries empty;
  const EvalSeries& a = series(Side::kA) ? *series(Side::kA) : empty;
  const EvalSeries& b = series(Side::kB) ? *series(Side::kB) : empty;
  const std::vector<DiffMetric>& metrics = clip_model_->table().metrics;
  const std::vector<std::string> names = chartable_series(a, b, metrics);
  const std::vector<std::string> defaults =
      default_chart_series(names, metrics, clip_ ? clip_->worst_metric : -1, kCharts);
  HeadKinds kinds;
  for (Side side : {Side::kA, Side::kB}) {
    if (const EvalResults* r = results(side)) kinds.insert(r->kinds.begin(), r->kinds.end());
  }
  const auto comparison = clip_model_->comparison();
  if (comparison) {
    chart_legend_->setText(
        QStringLiteral("<span style=\"color:%1\">━━</span> A %2 &nbsp; <span "
                       "style=\"color:%3\">━━</span> B %4 &nbsp; "
                       "<span style=\"color:%5\">╍╍</span> ground truth &nbsp; <span "
                       "style=\"color:#9c27b0\">▆</span> "
                       "Δ shaded &nbsp; <span style=\"color:#d50000\">│</span> current frame")
            .arg(side_colour(Side::kA).name(),
                 revision_name(comparison->revision_a).toHtmlEscaped(),
                 side_colour(Side::kB).name(),
                 revision_name(comparison->revision_b).toHtmlEscaped(), truth_colour().name()));
  }
  updating_ = true;
  for (int i = 0; i < kCharts; ++i) {
    QComboBox* combo = chart_combos_[static_cast<size_t>(i)];
    SeriesChart* chart = charts_[static_cast<size_t>(i)];
    combo->clear();
    for (const auto& n : names) combo->addItem(text(n));
    const QString& wanted = wanted_series_[static_cast<size_t>(i)];
    if (!clip_ || names.empty()) {
      chart->show_message(clip_ ? QStringLiteral("No per-frame series stored for this clip")
                                : QStringLiteral("Select a clip"));
      continue;
    }
    int index = wanted.isEmpty() ? -1 : combo->findText(wanted);
    if (index < 0 && static_cast<size_t>(i) < defaults.size()) {
      index = combo->findText(text(defaults[static_cast<size_t>(i)]));
    }
    if (index < 0) index = std::min(i, combo->count() - 1);
    combo->setCurrentIndex(index);
    const std::string name = combo->currentText().toStdString();
    ChartData data;
    data.name = combo->currentText();
    data.unit = text(series_unit(name, metrics, kinds));
    if (comparison) {
      data.a_name = revision_name(comparison->revision_a);
      data.b_name = revision_name(comparison->revision_b);
    }
    data.a = a.series(name);
    data.b = b.series(name);
    const std::string truth = truth_series_of(name);
    if (a.has(truth) || b.has(truth)) data.truth = a.has(truth) ? a.series(truth) : b.series(truth);
    chart->show_series(data);
    chart->set_cursor(playback_->frame());
  }
  updating_ = false;
  update_readouts();
}

void ComparePane::update_readouts() {
  const int frame = playback_->frame();
  for (int i = 0; i < kCharts; ++i) {
    QLabel* readout = chart_readouts_[static_cast<size_t>(i)];
    const std::string name = charts_[static_cast<size_t>(i)]->shown().name.toStdString();
    if (!clip_ || name.empty()) {
      readout->clear();
      continue;
    }
    auto value = [&](Side side) {
      const EvalSeries* s = series(side);
      return s ? static_cast<double>(s->at(name, frame)) : NAN;
    };
    const double a = value(Side::kA), b = value(Side::kB);
    auto shown = [](double v) {
      return std::isnan(v) ? QStringLiteral("—") : QString::number(v, 'g', 4);
    };
    QString line =
        QStringLiteral("frame %1: <b style=\"color:%2\">A</b> %3 · <b style=\"color:%4\">B</b> %5")
            .arg(frame)
            .arg(side_colour(Side::kA).name(), shown(a), side_colour(Side::kB).name(), shown(b));
    if (!std::isnan(a) && !std::isnan(b)) {
      line += QStringLiteral(" · Δ %1").arg((b - a > 0 ? QStringLiteral("+") : QString()) +
                                            shown(b - a));
    }
    const std::string truth = truth_series_of(name);
    for (Side side : {Side::kA, Side::kB}) {
      const EvalSeries* s = series(side);
      if (s == nullptr || !s->has(truth)) continue;
      line += QStringLiteral(" · truth %1").arg(shown(s->at(truth, frame)));
      break;
    }
    const QString unit = charts_[static_cast<size_t>(i)]->shown().unit;
    if (!unit.isEmpty()) line += QStringLiteral(" (%1)").arg(unit.toHtmlEscaped());
    readout->setText(line);
  }
}

// ------------------------------------------------------------------ live refresh

void ComparePane::refresh() {
  if (source_ == nullptr) return;
  try {
    const auto revisions = source_->revisions();
    bool changed = revisions.size() != revisions_.size();
    for (size_t i = 0; !changed && i < revisions.size(); ++i) {
      changed = revisions[i].revision.id != revisions_[i].revision.id ||
                revisions[i].succeeded_evals != revisions_[i].succeeded_evals;
    }
    if (changed) fill_pickers();
    if (!clip_model_->comparison() && revisions_.size() >= 2) {
      apply({});  // the first comparison became possible
      return;
    }
    clip_model_->refresh();  // table_replaced() keeps the clip and frame
  } catch (const hil::db::DbError& e) {
    emit status_message(QStringLiteral("Refresh failed: %1").arg(QString::fromUtf8(e.what())));
  }
}

// ------------------------------------------------------------------ exports and state

QString ComparePane::command_line() const {
  const auto c = comparison();
  if (source_ == nullptr || !c) return QString();
  return view_command_line(QString::fromStdString(source_->path().string()),
                           revision_sha(c->revision_a), revision_sha(c->revision_b), c->run_id,
                           clip_ ? text(clip_->clip_sha) : QString(), playback_->frame(),
                           frame_view_->mode(), camera_name());
}

void ComparePane::copy_command_line() {
  const QString line = command_line();
  if (line.isEmpty()) return;
  QGuiApplication::clipboard()->setText(line);
  emit status_message(QStringLiteral("Copied: %1").arg(line));
}

std::optional<QString> ComparePane::export_frame_png(const QString& path) {
  const QSize size = frame_view_->size().isValid() && frame_view_->width() > 0 ? frame_view_->size()
                                                                               : QSize(960, 400);
  if (!frame_view_->render(size).save(path, "PNG"))
    return QStringLiteral("%1: cannot write the PNG").arg(path);
  return std::nullopt;
}

std::optional<QString> ComparePane::export_charts_png(const QString& path) {
  if (!charts_pane_->grab().save(path, "PNG"))
    return QStringLiteral("%1: cannot write the PNG").arg(path);
  return std::nullopt;
}

std::optional<QString> ComparePane::export_table_csv(const QString& path) {
  return write_file(path, clip_table_csv(*clip_model_).toUtf8());
}

std::optional<QString> ComparePane::export_series_csv(const QString& path) {
  if (!clip_) return QStringLiteral("no clip selected: nothing to export");
  const EvalSeries empty;
  const EvalSeries& a = series(Side::kA) ? *series(Side::kA) : empty;
  const EvalSeries& b = series(Side::kB) ? *series(Side::kB) : empty;
  std::vector<std::string> names;
  for (const auto* s : {&a, &b}) {
    for (const auto& n : s->names()) {
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    }
  }
  return write_file(path, series_csv(a, b, names).toUtf8());
}

void ComparePane::show_key_help() {
  auto* box = new QMessageBox(QMessageBox::Information, QStringLiteral("Keys of the compare view"),
                              QLatin1String(kKeyHelp), QMessageBox::Close, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

void ComparePane::save_settings(QSettings& settings) const {
  if (const auto c = comparison()) {
    settings.setValue(QStringLiteral("a"), revision_sha(c->revision_a));
    settings.setValue(QStringLiteral("b"), revision_sha(c->revision_b));
    settings.setValue(QStringLiteral("scope"), scope_combo_->currentData().toString());
  }
  settings.setValue(QStringLiteral("clip"), clip_ ? text(clip_->clip_sha) : QString());
  settings.setValue(QStringLiteral("scenario"), clip_ ? text(clip_->scenario) : QString());
  settings.setValue(QStringLiteral("frame"), playback_->frame());
  settings.setValue(QStringLiteral("mode"), QLatin1String(frame_mode_name(frame_view_->mode())));
  settings.setValue(QStringLiteral("camera"), camera_name());
  QStringList charts;
  for (const QString& s : wanted_series_) charts << s;
  settings.setValue(QStringLiteral("charts"), charts);
  QVariantList overlays;
  for (QToolButton* b : overlay_buttons_) overlays << b->isChecked();
  settings.setValue(QStringLiteral("overlays"), overlays);
  settings.setValue(QStringLiteral("histogram_metric"), metric_combo_->currentText());
  settings.setValue(QStringLiteral("filter_text"), text_filter_->text());
  settings.setValue(QStringLiteral("main_splitter"), main_splitter_->saveState());
  settings.setValue(QStringLiteral("left_splitter"), left_splitter_->saveState());
  settings.setValue(QStringLiteral("right_splitter"), right_splitter_->saveState());
}

void ComparePane::restore_layout(QSettings& settings) {
  main_splitter_->restoreState(settings.value(QStringLiteral("main_splitter")).toByteArray());
  left_splitter_->restoreState(settings.value(QStringLiteral("left_splitter")).toByteArray());
  right_splitter_->restoreState(settings.value(QStringLiteral("right_splitter")).toByteArray());
  const QStringList charts = settings.value(QStringLiteral("charts")).toStringList();
  for (int i = 0; i < kCharts && i < charts.size(); ++i) {
    if (!charts[i].isEmpty()) wanted_series_[static_cast<size_t>(i)] = charts[i];
  }
  const QVariantList overlays = settings.value(QStringLiteral("overlays")).toList();
  for (size_t i = 0; i < overlay_buttons_.size() && i < static_cast<size_t>(overlays.size()); ++i) {
    overlay_buttons_[i]->setChecked(overlays[static_cast<int>(i)].toBool());
  }
  text_filter_->setText(settings.value(QStringLiteral("filter_text")).toString());
  const QString metric = settings.value(QStringLiteral("histogram_metric")).toString();
  if (!metric.isEmpty()) {
    updating_ = true;
    metric_combo_->clear();
    metric_combo_->addItem(metric);  // kept by table_replaced() when the table has it
    updating_ = false;
  }
}

ViewRequest ComparePane::saved_request(QSettings& settings) {
  ViewRequest request;
  request.revision_a = settings.value(QStringLiteral("a")).toString();
  request.revision_b = settings.value(QStringLiteral("b")).toString();
  const QString scope = settings.value(QStringLiteral("scope")).toString();
  if (scope.startsWith(QLatin1String("run:"))) request.run_id = scope.mid(4).toLongLong();
  if (scope.startsWith(QLatin1String("suite:"))) request.suite_id = scope.mid(6).toLongLong();
  request.clip = settings.value(QStringLiteral("clip")).toString();
  request.scenario = settings.value(QStringLiteral("scenario")).toString();
  if (settings.contains(QStringLiteral("frame")))
    request.frame = settings.value(QStringLiteral("frame")).toInt();
  request.mode = frame_mode_from_name(settings.value(QStringLiteral("mode")).toString());
  request.camera = settings.value(QStringLiteral("camera")).toString();
  return request;
}

}  // namespace hil::viewer
