// The databases the user opened last, newest first, kept in the user's
// QSettings (organisation and application names set by the caller).
#pragma once

#include <QString>
#include <QStringList>

namespace hil::viewer {

class RecentFiles {
 public:
  static constexpr int kMaxFiles = 8;

  QStringList paths() const;
  // Moves `path` (made absolute) to the front, dropping the oldest past kMaxFiles.
  void add(const QString& path);
  void remove(const QString& path);
  void clear();

 private:
  void store(const QStringList& paths);
};

}  // namespace hil::viewer
