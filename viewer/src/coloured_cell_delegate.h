// Keeps a cell's own background (a verdict colour) when its row is selected:
// the selection highlight would otherwise hide the one cell that matters.
#pragma once

#include <QStyledItemDelegate>

namespace hil::viewer {

class ColouredCellDelegate : public QStyledItemDelegate {
  Q_OBJECT

 public:
  using QStyledItemDelegate::QStyledItemDelegate;

 protected:
  void initStyleOption(QStyleOptionViewItem* option, const QModelIndex& index) const override;
};

}  // namespace hil::viewer
