#include "coloured_cell_delegate.h"

namespace hil::viewer {

void ColouredCellDelegate::initStyleOption(QStyleOptionViewItem* option,
                                           const QModelIndex& index) const {
  QStyledItemDelegate::initStyleOption(option, index);
  if (index.data(Qt::BackgroundRole).isValid()) option->state &= ~QStyle::State_Selected;
}

}  // namespace hil::viewer
