// The workbench's menu bar: File (databases, import, exports, report), Run, View, Help, with the
// standard keys. Every action calls the window's public actions (MainWindow::openDatabase, …),
// which the tests call without the dialogs.
#pragma once

#include <QString>

class QDockWidget;
class QMenu;

namespace cp::workbench {

class MainWindow;

// Builds the menus on `window`; returns File's "Open recent" menu for the window to fill.
QMenu* build_menus(MainWindow& window, QDockWidget* dock);

// The Help menu's texts: the About box (versions, device, database) and the keyboard shortcuts.
QString about_text(const QString& database);
QString shortcuts_text();

}  // namespace cp::workbench
