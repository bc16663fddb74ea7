// The core's run vocabulary (design, phase, status) as Qt metatypes, so queued signals between
// the worker thread and the GUI carry the enums themselves, never text to compare.
#pragma once

#include <QMetaType>
#include <QString>

#include "model/design.h"
#include "store/run_kinds.h"

Q_DECLARE_METATYPE(cp::model::Design)
Q_DECLARE_METATYPE(cp::store::Phase)
Q_DECLARE_METATYPE(cp::store::RunStatus)

namespace cp::widgets {

inline void register_kind_metatypes() {
    qRegisterMetaType<cp::model::Design>();
    qRegisterMetaType<cp::store::Phase>();
    qRegisterMetaType<cp::store::RunStatus>();
}

inline QString display_name(model::Design d) {
    return QString::fromUtf8(model::design_display_name(d));
}
inline QString display_name(store::Phase p) {
    return QString::fromUtf8(store::phase_display_name(p));
}
inline QString display_name(store::RunStatus s) {
    return QString::fromUtf8(store::status_display_name(s));
}

}  // namespace cp::widgets
