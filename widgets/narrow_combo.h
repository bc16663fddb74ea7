// A combo box that may be narrower than its longest item: it shows `characters` of the current
// one and the whole list when opened. Long design, run or measure names must not push a view past
// a 1280-pixel window (Workbench.EveryViewFitsTheWindowAt1280By800).
#pragma once

#include <QComboBox>

namespace cp::widgets {

inline void make_narrow(QComboBox* combo, int characters) {
    combo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    combo->setMinimumContentsLength(characters);
}

}  // namespace cp::widgets
