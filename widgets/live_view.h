// The live plots of an experiment: (a) training and validation loss of both models, x in steps
// or tokens; (b) Phase 1's OACD terms, and its convergence rate and effective rank; (c) KV
// memory measured against sequence length with the 50% line. Fed point by point from the
// worker (queued signals) or all at once from a stored run.
#pragma once

#include <QHash>
#include <QPointF>
#include <QVector>
#include <QWidget>
#include <set>

#include "widgets/kinds_meta.h"

class QCheckBox;
class QLabel;
class QComboBox;
class QSlider;

namespace cp::store {
struct RunRow;
}  // namespace cp::store
namespace cp::workspace {
class Workspace;
}

namespace cp::widgets {

class PlotPanel;
struct SeriesStyle;

class LiveView : public QWidget {
    Q_OBJECT
  public:
    explicit LiveView(QWidget* parent = nullptr);

    void clear();
    // Tokens per optimiser step (batch x sequence length), for the x axis in tokens.
    void setTokensPerStep(double tokens) { tokens_per_step_ = tokens; }
    PlotPanel* lossPlot() const { return loss_; }
    PlotPanel* phase1Plot() const { return oacd_; }
    PlotPanel* convergencePlot() const { return convergence_; }
    PlotPanel* kvPlot() const { return kv_; }
    // Points received so far, for tests and the status line.
    int pointsReceived() const { return points_; }

    // Every stored point of a run, as if it arrived live.
    void addStoredRun(workspace::Workspace& workspace, const store::RunRow& run);
    // An experiment's stored curves, every trained run's, in place of what is shown (throws
    // cp::Error when the database cannot be read).
    void showExperiment(workspace::Workspace& workspace, qint64 experiment_id);
    // A line above the plots saying what they show, or what to do next when they are empty
    // ("" hides it).
    void setCaption(const QString& text);
    QString caption() const;

  public slots:
    void addMetric(qint64 run_id, cp::model::Design model, cp::store::Phase phase,
                   const QString& name, qint64 step, qint64 epoch, double value);

  private:
    void addLossPoint(const QString& series, const SeriesStyle& style, double step, double value);
    void redrawLoss();
    // The registry's claim of each design seen here, as a share of Pythia's measured cache: one
    // dashed line per claimed share ("50% of Pythia").
    void drawClaims();

    PlotPanel *loss_, *oacd_, *convergence_, *kv_;
    QLabel* caption_;
    QSlider* smoothing_;
    QCheckBox* log_y_;
    QComboBox* x_axis_;
    QHash<QString, QVector<QPointF>> loss_points_;  // in steps; shown in steps or tokens
    double tokens_per_step_ = 1;
    int points_ = 0;
    QVector<double> pythia_kv_x_, pythia_kv_y_;  // Pythia's measured cache
    std::set<model::Design> seen_;               // the designs whose metrics arrived
};

}  // namespace cp::widgets
