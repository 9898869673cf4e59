#include "recent_files.h"

#include <QFileInfo>
#include <QSettings>

namespace hil::viewer {
namespace {

constexpr const char* kSettingsKey = "recent_files";

// The same file reached by two relative paths must be one entry.
QString absolute(const QString& path) { return QFileInfo(path).absoluteFilePath(); }

}  // namespace

QStringList RecentFiles::paths() const {
  return QSettings().value(QLatin1String(kSettingsKey)).toStringList();
}

void RecentFiles::add(const QString& path) {
  QStringList list = paths();
  const QString entry = absolute(path);
  list.removeAll(entry);
  list.prepend(entry);
  while (list.size() > kMaxFiles) list.removeLast();
  store(list);
}

void RecentFiles::remove(const QString& path) {
  QStringList list = paths();
  list.removeAll(absolute(path));
  store(list);
}

void RecentFiles::clear() { store({}); }

void RecentFiles::store(const QStringList& paths) {
  QSettings().setValue(QLatin1String(kSettingsKey), paths);
}

}  // namespace hil::viewer
