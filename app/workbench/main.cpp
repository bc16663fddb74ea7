// context-pythia-workbench: the desktop workbench. `--screenshots DIR` saves one PNG per main
// view (on the database's latest experiment) and exits; the README's pictures come from it.
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QTimer>
#include <iostream>

#include "experiment/experiment_params.h"
#include "workbench/main_window.h"
#include "workbench/screenshots.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    Q_INIT_RESOURCE(workbench);  // the icon, compiled into the static cp_workbench library
    QApplication::setApplicationName("Context-Pythia Workbench");
    QApplication::setOrganizationName("context-pythia");
    QApplication::setDesktopFileName("context-pythia-workbench");
    QCommandLineParser parser;
    parser.setApplicationDescription("Context-Pythia workbench: KV-cache compression experiments");
    parser.addHelpOption();
    QCommandLineOption db(QStringList{"db"}, "The run database (default: the workbench's own).",
                          "FILE");
    QCommandLineOption shots(QStringList{"screenshots"},
                             "Save one PNG per main view into DIR and exit.", "DIR");
    parser.addOption(db);
    parser.addOption(shots);
    parser.process(app);
    const QString database = parser.isSet(db)
                                 ? parser.value(db)
                                 : QString::fromStdString(cp::train::default_database_path());
    cp::workbench::MainWindow window(database);
    if (parser.isSet(shots)) {
        window.resize(1280, 800);
        window.show();
        const QStringList files = cp::workbench::save_screenshots(window, parser.value(shots));
        for (const QString& f : files) std::cout << f.toStdString() << "\n";
        return files.isEmpty() ? 1 : 0;
    }
    window.show();
    return app.exec();
}
