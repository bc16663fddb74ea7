// The workbench's screenshots mode (`context-pythia-workbench --screenshots DIR`): one PNG per
// main view, on the database's showcase experiment (core chooses it), as a researcher sees them
// in a 1280 x 800 window. The README's pictures come from it.
#pragma once

#include <QString>
#include <QStringList>

namespace cp::workbench {

class MainWindow;

// Saves the pictures into `dir` (made when missing); returns the files written.
QStringList save_screenshots(MainWindow& window, const QString& dir);

}  // namespace cp::workbench
