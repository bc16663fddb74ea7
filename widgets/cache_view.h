// "Cache compression": a finished run evaluated under KV-cache policies (KV_METHODS.md part B).
// Pick the run, tick policies and set their parameters (several sets of one policy separated by
// ';'), run on the worker thread with progress and Stop; see bytes per token against perplexity
// on the shared Pareto plot (the run's experiment: trained designs and policies side by side) and
// each layer's K and V eigenvalue spectra. The request, its checks and every number come from
// core (experiment/cache_eval_params.h, report/design_comparison.h, report/kv_anatomy.h).
#pragma once

#include <QWidget>
#include <optional>
#include <vector>

#include "model/cache_policy.h"
#include "report/design_comparison.h"
#include "report/kv_anatomy.h"
#include "experiment/cache_eval_params.h"

class QCheckBox;
class QComboBox;
class QFormLayout;
class QGroupBox;
class QVBoxLayout;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;

namespace cp::workspace {
class Workspace;
}

namespace cp::widgets {

class ParetoPlot;
class PlotPanel;

class CacheView : public QWidget {
    Q_OBJECT
  public:
    explicit CacheView(QWidget* parent = nullptr);
    // The open database it reads (MainWindow owns it); null: nothing to show.
    void setWorkspace(workspace::Workspace* workspace);
    // The evaluation the form asks for, checked by core; or why it cannot start (then empty).
    std::optional<train::CacheEvalParams> request(QString* problem) const;
    // Selects a trained run (by id) and shows what is recorded of it.
    QString showRun(qint64 run_id);
    void setRunning(bool running);
    void setProgress(qint64 step, qint64 total, const QString& text);
    void setMessage(const QString& text);
    QString exportSpectraCsv(const QString& path) const;  // error message or ""

    ParetoPlot* pareto() const { return pareto_; }
    PlotPanel* spectra() const { return spectra_; }
    PlotPanel* positions() const { return positions_; }
    const std::vector<report::PositionSeries>& positionSeries() const { return position_series_; }
    const std::optional<report::KvAnatomy>& anatomy() const { return anatomy_; }
    QCheckBox* policyCheck(model::PolicyKind kind) const;
    QLineEdit* policyParameters(model::PolicyKind kind) const;

  public slots:
    void refreshChoices();
    // Redraws the chosen run's Pareto plot and spectra from the store.
    void refreshResults();

  signals:
    void runRequested();
    void stopRequested();

  private:
    QGroupBox* buildPolicies(QWidget* parent);
    QFormLayout* buildOptions(QWidget* parent);
    void buildLaunch(QWidget* parent, QVBoxLayout* form);
    QWidget* buildResults();

    workspace::Workspace* workspace_ = nullptr;
    QComboBox* run_;
    std::vector<std::pair<model::PolicyKind, std::pair<QCheckBox*, QLineEdit*>>> policies_;
    QLineEdit *calibration_, *test_chunks_, *budgets_, *prefill_chunk_, *prefill_;
    QPushButton *run_button_, *stop_button_, *spectra_csv_;
    QProgressBar* progress_;
    QLabel *status_, *message_;
    ParetoPlot* pareto_;
    PlotPanel* spectra_;
    PlotPanel* positions_;
    std::vector<report::PositionSeries> position_series_;
    std::optional<report::KvAnatomy> anatomy_;
    std::int64_t seq_length_ = 64;
};

}  // namespace cp::widgets
