// How a gate verdict looks wherever the viewer shows one (table cells, chart
// bars), so a fail is the same red in every pane.
#pragma once

#include <string_view>

#include <QColor>

namespace hil::viewer {

enum class VerdictKind { kNone, kPass, kFail, kInconclusive, kInvalid };

// "pass", "fail", "inconclusive", "invalid" as the gate stores them; anything else
// (a run not gated yet) is kNone.
VerdictKind verdict_kind(std::string_view verdict);

// Fill colour for a verdict; an invalid QColor for kNone (leave the default).
QColor verdict_background(VerdictKind verdict);
// Text colour that stays readable on verdict_background().
QColor verdict_foreground(VerdictKind verdict);

}  // namespace hil::viewer
