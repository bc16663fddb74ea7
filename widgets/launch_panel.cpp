#include "widgets/launch_panel.h"
#include "widgets/narrow_combo.h"

#include <QCheckBox>
#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QVBoxLayout>
#include <algorithm>

#include "experiment/experiment_params.h"
#include "model/model_registry.h"
#include "widgets/kinds_meta.h"

namespace cp::widgets {
namespace {

QPushButton* button(const char* text, const char* name, const char* tip) {
    auto* b = new QPushButton(text);
    b->setObjectName(name);
    b->setToolTip(tip);
    return b;
}

}  // namespace

LaunchPanel::LaunchPanel(QWidget* parent) : QGroupBox("Launch", parent) {
    auto* layout = new QVBoxLayout(this);
    full_ = button("Full comparison", "launchFull",
                   "Phase 1 (when Context-Pythia is checked), Phase 2 of each checked design on "
                   "the same chunks, evaluation (Ctrl+Enter)");
    phase1_ = button("Phase 1", "launchPhase1", "Train the ContextBlock alone for diversity (OACD)");
    phase2_ = button("Phase 2", "launchPhase2", "");
    stop_ = button("Stop", "stop",
                   "Finish the current step, keep everything so far, mark the run stopped (Esc)");
    phase2_model_ = new QComboBox;
    phase2_model_->setObjectName("phase2Model");
    for (const model::DesignEntry& d : model::design_registry())  // every registered design
        phase2_model_->addItem(display_name(d.design), static_cast<int>(d.design));
    // Narrow: the dock is about 340 px at 1280 x 800; the names say the rest in tool tips.
    make_narrow(phase2_model_, 10);
    ablation_ = new QCheckBox("Ablation: untrained block");
    ablation_->setObjectName("ablation");
    ablation_->setToolTip("Phase 2 on an untrained ContextBlock (no Phase 1): the ablation");
    // The designs a full comparison trains on the same chunks, from the registry; checked: the
    // ones saved at the last launch, else core's default models.
    auto* designs = new QGroupBox("Designs in a full comparison");
    auto* designs_layout = new QGridLayout(designs);
    const train::ExperimentParams defaults;
    const QStringList saved = QSettings().value("launch/designs").toStringList();
    for (const model::DesignEntry& d : model::design_registry()) {
        auto* check = new QCheckBox(display_name(d.design));
        const QString key = QString::fromUtf8(model::design_key(d.design));
        check->setObjectName("design-" + key);
        check->setToolTip(QString::fromUtf8(d.summary));
        check->setChecked(saved.isEmpty() ? std::find(defaults.models.begin(), defaults.models.end(),
                                                      d.design) != defaults.models.end()
                                          : saved.contains(key));
        designs_layout->addWidget(check, static_cast<int>(designs_.size()), 0);  // one column
        designs_.emplace_back(d.design, check);
    }
    layout->addWidget(designs);
    layout->addWidget(full_);
    layout->addWidget(phase1_);
    auto* p2 = new QHBoxLayout;
    p2->addWidget(phase2_);
    p2->addWidget(phase2_model_, 1);
    layout->addLayout(p2);
    layout->addWidget(ablation_);
    layout->addWidget(stop_);
    progress_ = new QProgressBar;
    progress_->setObjectName("progress");
    progress_->setTextVisible(true);
    progress_->setRange(0, 1);
    progress_->setValue(0);
    progress_label_ = new QLabel("Idle");
    progress_label_->setObjectName("progressLabel");
    progress_label_->setWordWrap(true);
    message_ = new QLabel;
    message_->setObjectName("launchMessage");
    message_->setWordWrap(true);
    message_->setStyleSheet("color: #b00020;");
    layout->addWidget(progress_);
    layout->addWidget(progress_label_);
    layout->addWidget(message_);
    connect(full_, &QPushButton::clicked, this,
            [this] { emit launchRequested(train::LaunchMode::full_comparison); });
    connect(phase1_, &QPushButton::clicked, this,
            [this] { emit launchRequested(train::LaunchMode::phase1); });
    connect(phase2_, &QPushButton::clicked, this,
            [this] { emit launchRequested(train::LaunchMode::phase2); });
    connect(stop_, &QPushButton::clicked, this, &LaunchPanel::stopRequested);
    connect(phase2_model_, qOverload<int>(&QComboBox::currentIndexChanged), this,
            &LaunchPanel::choicesChanged);
    connect(ablation_, &QCheckBox::toggled, this, &LaunchPanel::choicesChanged);
}

void LaunchPanel::setState(bool form_valid, bool running) {
    for (QPushButton* b : {full_, phase1_, phase2_}) b->setEnabled(!running && form_valid);
    stop_->setEnabled(running);
    phase2_model_->setEnabled(!running);
    ablation_->setEnabled(!running);
    for (const auto& [d, check] : designs_) check->setEnabled(!running);
}

std::vector<model::Design> LaunchPanel::checkedDesigns() const {
    std::vector<model::Design> out;
    for (const auto& [d, check] : designs_)
        if (check->isChecked()) out.push_back(d);
    return out;
}

model::Design LaunchPanel::phase2Design() const {
    return static_cast<model::Design>(phase2_model_->currentData().toInt());
}

bool LaunchPanel::ablation() const {
    return ablation_->isChecked();
}

void LaunchPanel::saveDesigns(QSettings& settings) const {
    QStringList checked;
    for (model::Design d : checkedDesigns()) checked << QString::fromUtf8(model::design_key(d));
    settings.setValue("launch/designs", checked);
}

void LaunchPanel::showBusy(const QString& text) {
    progress_->setRange(0, 0);  // busy until the first progress report
    progress_label_->setText(text);
}

void LaunchPanel::showProgress(qint64 step, qint64 total, const QString& text) {
    progress_->setRange(0, static_cast<int>(std::max<qint64>(total, 1)));
    progress_->setValue(static_cast<int>(std::min(step, total)));
    progress_label_->setText(text);
}

void LaunchPanel::showText(const QString& text) {
    progress_label_->setText(text);
}

void LaunchPanel::showEnd(bool finished, const QString& text) {
    progress_->setRange(0, 1);
    progress_->setValue(finished ? 1 : 0);
    progress_label_->setText(text);
}

void LaunchPanel::setMessage(const QString& text) {
    message_->setText(text);
}

}  // namespace cp::widgets
