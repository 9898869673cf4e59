#include "verdict_style.h"

namespace hil::viewer {

VerdictKind verdict_kind(std::string_view verdict) {
  if (verdict == "pass") return VerdictKind::kPass;
  if (verdict == "fail") return VerdictKind::kFail;
  if (verdict == "inconclusive") return VerdictKind::kInconclusive;
  if (verdict == "invalid") return VerdictKind::kInvalid;
  return VerdictKind::kNone;
}

QColor verdict_background(VerdictKind verdict) {
  switch (verdict) {
    case VerdictKind::kPass:
      return QColor(0x2e, 0x7d, 0x32);  // green
    case VerdictKind::kFail:
      return QColor(0xc6, 0x28, 0x28);  // red
    case VerdictKind::kInconclusive:
      return QColor(0xff, 0xb3, 0x00);  // amber
    case VerdictKind::kInvalid:
      return QColor(0x61, 0x61, 0x61);  // grey: no judgement
    case VerdictKind::kNone:
      break;
  }
  return QColor();
}

QColor verdict_foreground(VerdictKind verdict) {
  switch (verdict) {
    case VerdictKind::kPass:
    case VerdictKind::kFail:
    case VerdictKind::kInvalid:
      return QColor(Qt::white);
    case VerdictKind::kInconclusive:
      return QColor(Qt::black);  // white on amber is unreadable
    case VerdictKind::kNone:
      break;
  }
  return QColor();
}

}  // namespace hil::viewer
