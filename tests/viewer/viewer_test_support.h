// Helpers shared by the viewer's test files: Catch printing of QString,
// Qt's model tester with its failures turned into assertions, cell readers.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include <QAbstractItemModel>
#include <QAbstractItemModelTester>
#include <QColor>
#include <QImage>
#include <QString>
#include <QStringList>

namespace Catch {
template <>
struct StringMaker<QString> {
  static std::string convert(const QString& s) { return '"' + s.toStdString() + '"'; }
};
}  // namespace Catch

namespace viewer_test {

// Model-tester failures, collected by a message handler (installed by main())
// so a failure is a failed assertion of the test that caused it (not a
// crash, not a lost line).
inline QStringList& model_test_failures() {
  static QStringList failures;
  return failures;
}

inline QtMessageHandler& previous_message_handler() {
  static QtMessageHandler handler = nullptr;
  return handler;
}

inline void collect_model_test_failures(QtMsgType type, const QMessageLogContext& context,
                                        const QString& message) {
  if (context.category != nullptr && QLatin1String(context.category) == "qt.modeltest") {
    model_test_failures() << message;
  }
  previous_message_handler()(type, context, message);
}

// Watches `model` with Qt's QAbstractItemModelTester for the tester's life.
class CheckedModel {
 public:
  explicit CheckedModel(QAbstractItemModel* model)
      : tester_(model, QAbstractItemModelTester::FailureReportingMode::Warning) {
    model_test_failures().clear();
  }
  ~CheckedModel() { CHECK(model_test_failures().isEmpty()); }

 private:
  QAbstractItemModelTester tester_;
};

inline QString cell(const QAbstractItemModel& model, int row, int column,
                    int role = Qt::DisplayRole) {
  return model.data(model.index(row, column), role).toString();
}

inline QColor cell_color(const QAbstractItemModel& model, int row, int column, int role) {
  return model.data(model.index(row, column), role).value<QColor>();
}

inline int count_pixels(const QImage& image, const QColor& color) {
  int count = 0;
  for (int y = 0; y < image.height(); ++y) {
    for (int x = 0; x < image.width(); ++x) count += image.pixelColor(x, y).rgb() == color.rgb();
  }
  return count;
}

}  // namespace viewer_test
