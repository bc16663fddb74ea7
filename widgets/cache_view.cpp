#include "widgets/cache_view.h"
#include "widgets/narrow_combo.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QTabWidget>
#include <QLineEdit>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QVBoxLayout>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/numbers.h"
#include "report/csv.h"
#include "report/design_comparison.h"
#include "store/run_store.h"
#include "workspace/workspace.h"
#include "widgets/kinds_meta.h"
#include "widgets/pareto_plot.h"
#include "widgets/position_plot.h"
#include "widgets/plot_panel.h"

namespace cp::widgets {
namespace {

constexpr model::PolicyKind kKinds[] = {
    model::PolicyKind::full,      model::PolicyKind::int8, model::PolicyKind::int4,
    model::PolicyKind::lowrank,   model::PolicyKind::streaming, model::PolicyKind::h2o,
    model::PolicyKind::snapkv};

const char* kind_summary(model::PolicyKind k) {
    switch (k) {
        case model::PolicyKind::full: return "K and V as computed (the harness check)";
        case model::PolicyKind::int8: return "KIVI: K per channel, V per token, 8-bit codes";
        case model::PolicyKind::int4: return "KIVI at 4 bits, two codes to a byte";
        case model::PolicyKind::lowrank: return "coefficients on a PCA or random basis";
        case model::PolicyKind::streaming: return "attention sinks + a recent window";
        case model::PolicyKind::h2o: return "recent window + heavy hitters";
        case model::PolicyKind::snapkv: return "prompt compressed by its observation window";
    }
    return "";
}

}  // namespace

CacheView::CacheView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QHBoxLayout(this);
    auto* left = new QWidget(this);
    auto* form = new QVBoxLayout(left);
    left->setMaximumWidth(360);
    run_ = new QComboBox(left);
    run_->setObjectName("cacheRun");
    make_narrow(run_, 20);
    form->addWidget(new QLabel("<b>Trained run</b> (finished Phase 2)", left));
    form->addWidget(run_);
    form->addWidget(buildPolicies(left));
    form->addLayout(buildOptions(left));
    buildLaunch(left, form);
    layout->addWidget(left);
    layout->addWidget(buildResults(), 1);
    connect(run_button_, &QPushButton::clicked, this, &CacheView::runRequested);
    connect(stop_button_, &QPushButton::clicked, this, &CacheView::stopRequested);
    connect(run_, qOverload<int>(&QComboBox::activated), this, &CacheView::refreshResults);
    connect(spectra_csv_, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, "Export the K/V spectra as CSV",
                                                          "kv-spectra.csv", "CSV (*.csv)");
        if (path.isEmpty()) return;
        if (const QString e = exportSpectraCsv(path); !e.isEmpty())
            QMessageBox::warning(this, "Export failed", e);
    });
}

// One row per policy kind: tick it, and its parameter sets (suggested for the run's chunks).
QGroupBox* CacheView::buildPolicies(QWidget* parent) {
    auto* box = new QGroupBox("Policies (several parameter sets: separate with ';')", parent);
    auto* grid = new QGridLayout(box);
    int row = 0;
    for (model::PolicyKind k : kKinds) {
        auto* check = new QCheckBox(model::policy_key(k), box);
        check->setObjectName(QString("policy-") + model::policy_key(k));
        check->setToolTip(kind_summary(k));
        check->setChecked(k != model::PolicyKind::snapkv);
        auto* params = new QLineEdit(box);
        params->setObjectName(QString("policyParams-") + model::policy_key(k));
        params->setText(QString::fromStdString(train::suggested_parameters(k, seq_length_)));
        params->setEnabled(k != model::PolicyKind::full);
        params->setToolTip(QString::fromStdString(model::policy_help()));
        grid->addWidget(check, row, 0);
        grid->addWidget(params, row, 1);
        ++row;
        policies_.push_back({k, {check, params}});
    }
    return box;
}

QFormLayout* CacheView::buildOptions(QWidget* parent) {
    const auto field = [parent](const char* name, const char* placeholder) {
        auto* line = new QLineEdit(parent);
        line->setObjectName(name);
        line->setPlaceholderText(placeholder);
        return line;
    };
    calibration_ = field("calibrationTokens", "16384 (lowrank's PCA and the K/V anatomy)");
    test_chunks_ = field("cacheTestChunks", "the run's own evaluation's");
    budgets_ = field("cacheBudgets", "none: each policy's own knobs (e.g. 0.5, 0.25, 0.125)");
    budgets_->setToolTip("Fractions of the full cache's bytes at the scored length: every ticked "
                         "policy but full is solved to fit each one, so it is drawn as a curve.");
    prefill_chunk_ =
        field("cachePrefillChunk", "1 (token by token: every scored token under the policy)");
    prefill_ = field("cachePrefill", "0 (labelled mode: tokens read uncompressed first)");
    prefill_->setToolTip("The papers' 'uncompressed prompt' mode: this many tokens attend to each "
                         "other uncompressed before the policy acts. Labelled on every result.");
    auto* options = new QFormLayout;
    options->addRow("Calibration tokens", calibration_);
    options->addRow("Held-out chunks", test_chunks_);
    options->addRow("Budgets", budgets_);
    options->addRow("Tokens per step", prefill_chunk_);
    options->addRow("Uncompressed prompt", prefill_);
    return options;
}

void CacheView::buildLaunch(QWidget* parent, QVBoxLayout* form) {
    auto* buttons = new QHBoxLayout;
    run_button_ = new QPushButton("Evaluate policies", parent);
    run_button_->setObjectName("cacheEvaluate");
    stop_button_ = new QPushButton("Stop", parent);
    stop_button_->setObjectName("cacheStop");
    stop_button_->setEnabled(false);
    buttons->addWidget(run_button_);
    buttons->addWidget(stop_button_);
    form->addLayout(buttons);
    progress_ = new QProgressBar(parent);
    progress_->setRange(0, 1);
    progress_->setValue(0);
    status_ = new QLabel("Idle", parent);
    status_->setWordWrap(true);
    message_ = new QLabel(parent);
    message_->setObjectName("cacheMessage");
    message_->setWordWrap(true);
    message_->setStyleSheet("color: #b00020;");
    form->addWidget(progress_);
    form->addWidget(status_);
    form->addWidget(message_);
    form->addStretch();
}

// The Pareto plane above; below it the loss by position and the K/V anatomy.
QWidget* CacheView::buildResults() {
    auto* split = new QSplitter(Qt::Vertical, this);
    pareto_ = new ParetoPlot(split);
    auto* spectra_box = new QWidget(split);
    auto* spectra_layout = new QVBoxLayout(spectra_box);
    spectra_layout->setContentsMargins(0, 0, 0, 0);
    spectra_ = new PlotPanel("K/V anatomy: eigenvalue spectrum of each layer's cached K and V",
                             "eigenvalue index (largest first)", "eigenvalue", spectra_box);
    spectra_->setLogY(true);
    spectra_->setLegendColumns(2);
    spectra_csv_ = new QPushButton("Export spectra CSV…", spectra_box);
    spectra_csv_->setObjectName("spectraCsv");
    spectra_layout->addWidget(spectra_, 1);
    spectra_layout->addWidget(spectra_csv_, 0, Qt::AlignRight);
    auto* below = new QTabWidget(split);
    below->setObjectName("cacheDetails");
    positions_ = make_position_plot(below);
    below->addTab(positions_, "Loss by position");
    below->addTab(spectra_box, "K/V anatomy");
    split->addWidget(pareto_);
    split->addWidget(below);
    return split;
}

void CacheView::setWorkspace(workspace::Workspace* workspace) {
    workspace_ = workspace;
    refreshChoices();
}

void CacheView::refreshChoices() {
    const QVariant chosen = run_->currentData();
    run_->clear();
    if (!workspace_) return;
    try {
        for (const store::RunRow& r : workspace_->cache_eval_runs())
            run_->addItem(QString("run %1: %2 (experiment %3)")
                                  .arg(r.id)
                                  .arg(display_name(r.model))
                                  .arg(r.experiment_id),
                              static_cast<qlonglong>(r.id));
    } catch (const Error& e) {
        message_->setText(e.what());
    }
    const int keep = run_->findData(chosen);
    run_->setCurrentIndex(keep >= 0 ? keep : run_->count() - 1);
}

QCheckBox* CacheView::policyCheck(model::PolicyKind kind) const {
    for (const auto& [k, widgets] : policies_)
        if (k == kind) return widgets.first;
    return nullptr;
}

QLineEdit* CacheView::policyParameters(model::PolicyKind kind) const {
    for (const auto& [k, widgets] : policies_)
        if (k == kind) return widgets.second;
    return nullptr;
}

std::optional<train::CacheEvalParams> CacheView::request(QString* problem) const {
    train::CacheEvalParams p;
    p.db = workspace_ ? workspace_->database() : "";
    const auto fail = [&](const QString& why) {
        if (problem) *problem = why;
        return std::optional<train::CacheEvalParams>();
    };
    if (run_->currentIndex() < 0) return fail("No finished Phase 2 run to evaluate: train one first.");
    p.runs = {run_->currentData().toLongLong()};
    try {
        for (const auto& [k, widgets] : policies_) {
            if (!widgets.first->isChecked()) continue;
            for (const model::CachePolicy& policy :
                 train::parse_policy_sets(k, widgets.second->text().toStdString()))
                p.policies.push_back(policy);
        }
        const auto number = [&](QLineEdit* field, const char* name, std::int64_t fallback) {
            const std::string text = field->text().trimmed().toStdString();
            if (text.empty()) return fallback;
            const auto v = parse_whole_number(text);
            if (!v) throw Error(std::string(name) + ": '" + text + "' is not a whole number");
            return *v;
        };
        p.calibration_tokens = number(calibration_, "calibration tokens", p.calibration_tokens);
        p.max_test_chunks = number(test_chunks_, "held-out chunks", 0);
        p.prefill_chunk = number(prefill_chunk_, "tokens per step", p.prefill_chunk);
        p.prefill = number(prefill_, "uncompressed prompt", p.prefill);
        p.budgets = train::parse_budgets(budgets_->text().toStdString());
        // Each policy against the model the run trained: core's checks, before any work.
        const std::vector<std::string> problems =
            workspace_ ? workspace_->cache_eval_problems(p) : p.problems();
        if (!problems.empty()) {
            QString text;
            for (const std::string& x : problems) text += (text.isEmpty() ? "" : "\n") + QString::fromStdString(x);
            return fail(text);
        }
    } catch (const std::exception& e) {
        return fail(QString::fromUtf8(e.what()));
    }
    return p;
}

QString CacheView::showRun(qint64 run_id) {
    const int i = run_->findData(static_cast<qlonglong>(run_id));
    if (i < 0) return QString("run %1 is not a finished Phase 2 run of this database").arg(run_id);
    run_->setCurrentIndex(i);
    refreshResults();
    return {};
}

void CacheView::refreshResults() {
    anatomy_.reset();
    spectra_->clear();
    if (run_->currentIndex() < 0 || !workspace_) {
        pareto_->clear();
        return;
    }
    const qint64 run_id = run_->currentData().toLongLong();
    try {
        const store::RunRow r = workspace_->run(run_id);
        message_->setText(QString::fromStdString(workspace_->checkpoint_warning(run_id)));
        const auto params = workspace_->experiment_params(r.experiment_id);
        if (params && params->seq_length) {
            const std::int64_t seq = *params->seq_length;
            if (seq != seq_length_) {  // suggestions that evict within this run's chunks
                seq_length_ = seq;
                for (const auto& [k, widgets] : policies_)
                    if (k != model::PolicyKind::full)
                        widgets.second->setText(QString::fromStdString(train::suggested_parameters(k, seq)));
            }
        }
        const report::DesignComparison comparison =
            workspace_->compare_designs(r.experiment_id, true);
        pareto_->setComparison(comparison);
        position_series_ = workspace_->loss_by_position(comparison);
        draw_loss_by_position(*positions_, position_series_);
        if ((anatomy_ = workspace_->latest_anatomy(run_id))) {
            int color = 0;
            for (const report::LayerSpectrum& l : anatomy_->layers) {
                const QColor c = series_color(color++);
                for (const auto& [kv, values, spread] :
                     {std::tuple{"K", &l.k, l.k_spread}, std::tuple{"V", &l.v, l.v_spread}}) {
                    // Below 1e-9 of the largest is numerical zero (rank-deficient text): left out
                    // so the log axis shows the spectrum, not rounding.
                    QVector<double> x, y;
                    const double floor = values->empty() ? 0 : 1e-9 * values->front();
                    for (std::size_t i = 0; i < values->size(); ++i)
                        if ((*values)[i] > floor) {
                            x.push_back(static_cast<double>(i));
                            y.push_back((*values)[i]);
                        }
                    spectra_->setSeries(QString("layer %1 %2 (spread %3×)")
                                            .arg(l.layer)
                                            .arg(kv)
                                            .arg(spread, 0, 'f', 1),
                                        x, y, {c, std::string(kv) == "V", false});
                }
            }
            status_->setText(QString("K/V anatomy of run %1 on %2 calibration tokens: solid K, "
                                     "dashed V; the spread is largest / median eigenvalue.")
                                 .arg(run_id)
                                 .arg(anatomy_->calibration_tokens));
        }
        spectra_->resetView();
    } catch (const Error& e) {
        message_->setText(e.what());
    }
}

void CacheView::setRunning(bool running) {
    run_button_->setEnabled(!running);
    stop_button_->setEnabled(running);
    run_->setEnabled(!running);
    if (running) {
        progress_->setRange(0, 0);
        message_->clear();
        status_->setText("Preparing the run's held-out text…");
    } else {
        progress_->setRange(0, 1);
        progress_->setValue(1);
    }
}

void CacheView::setProgress(qint64 step, qint64 total, const QString& text) {
    progress_->setRange(0, static_cast<int>(std::max<qint64>(1, total)));
    progress_->setValue(static_cast<int>(std::min(step, total)));
    status_->setText(text);
}

void CacheView::setMessage(const QString& text) {
    message_->setText(text);
}

QString CacheView::exportSpectraCsv(const QString& path) const {
    if (!anatomy_) return "no K/V anatomy recorded for this run yet: evaluate policies first";
    try {
        report::CsvFile file(path.toStdString());
        report::write_anatomy_csv(*anatomy_, file.stream());
        file.commit();
        return {};
    } catch (const Error& e) {
        return e.what();
    }
}

}  // namespace cp::widgets
