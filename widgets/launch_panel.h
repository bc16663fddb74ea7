// The launch panel under the form: which designs a full comparison trains (from the registry),
// Full comparison / Phase 1 / Phase 2 of a chosen design, the ablation, Stop, and the progress
// of whatever runs. It decides nothing: the window asks it what was chosen and tells it what
// runs; the plan is core's.
#pragma once

#include <QGroupBox>
#include <utility>
#include <vector>

#include "experiment/plan.h"
#include "model/design.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSettings;

namespace cp::widgets {

class LaunchPanel : public QGroupBox {
    Q_OBJECT
  public:
    explicit LaunchPanel(QWidget* parent = nullptr);

    // Launch buttons only with a valid form and nothing running; Stop only while running.
    void setState(bool form_valid, bool running);
    std::vector<model::Design> checkedDesigns() const;
    model::Design phase2Design() const;
    bool ablation() const;
    void saveDesigns(QSettings& settings) const;

    // Busy with no count yet ("Preparing data…"), a count, or the end.
    void showBusy(const QString& text);
    void showProgress(qint64 step, qint64 total, const QString& text);
    void showText(const QString& text);
    void showEnd(bool finished, const QString& text);
    void setMessage(const QString& text);  // red, under the progress; "" clears it

  signals:
    void launchRequested(cp::train::LaunchMode mode);
    void stopRequested();
    void choicesChanged();  // the Phase 2 design or the ablation

  private:
    QPushButton *full_, *phase1_, *phase2_, *stop_;
    QComboBox* phase2_model_;
    QCheckBox* ablation_;
    std::vector<std::pair<model::Design, QCheckBox*>> designs_;
    QProgressBar* progress_;
    QLabel *progress_label_, *message_;
};

}  // namespace cp::widgets
