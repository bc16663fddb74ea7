#include "widgets/live_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QVBoxLayout>

#include "model/model_registry.h"
#include "store/metric_names.h"
#include "store/run_store.h"
#include "workspace/workspace.h"
#include "widgets/plot_panel.h"

#include <qcustomplot.h>

namespace cp::widgets {

LiveView::LiveView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel("Smoothing", this));
    smoothing_ = new QSlider(Qt::Horizontal, this);
    smoothing_->setObjectName("smoothing");
    smoothing_->setRange(0, 95);
    smoothing_->setToolTip("Exponential moving average of the loss curves (display only)");
    smoothing_->setMaximumWidth(160);
    controls->addWidget(smoothing_);
    log_y_ = new QCheckBox("Log y", this);
    log_y_->setObjectName("logY");
    controls->addWidget(log_y_);
    controls->addWidget(new QLabel("x axis", this));
    x_axis_ = new QComboBox(this);
    x_axis_->addItem("steps");
    x_axis_->addItem("tokens");
    controls->addWidget(x_axis_);
    controls->addStretch();
    controls->addWidget(new QLabel("drag: pan · wheel: zoom · hover: values", this));
    layout->addLayout(controls);
    caption_ = new QLabel(this);
    caption_->setObjectName("liveCaption");
    caption_->setWordWrap(true);
    caption_->setVisible(false);
    layout->addWidget(caption_);

    loss_ = new PlotPanel("Loss (nats/token)", "step", "loss", this);
    loss_->setLegendColumns(2);  // a design per row: its training and validation curves
    oacd_ = new PlotPanel("Phase 1: OACD loss and its terms", "iteration", "value", this);
    convergence_ =
        new PlotPanel("Phase 1: convergence and context rank", "iteration", "fraction", this);
    kv_ =
        new PlotPanel("KV cache, measured from the cache tensors", "cached tokens", "bytes", this);
    auto* grid = new QGridLayout;
    grid->addWidget(loss_, 0, 0, 1, 2);
    grid->addWidget(oacd_, 1, 0);
    grid->addWidget(convergence_, 1, 1);
    grid->addWidget(kv_, 0, 2, 2, 1);
    grid->setRowStretch(0, 3);
    grid->setRowStretch(1, 2);
    grid->setColumnStretch(0, 1);
    grid->setColumnStretch(1, 1);
    grid->setColumnStretch(2, 1);
    layout->addLayout(grid, 1);

    connect(smoothing_, &QSlider::valueChanged, this,
            [this](int v) { loss_->setSmoothing(v / 100.0); });
    connect(log_y_, &QCheckBox::toggled, this, [this](bool on) { loss_->setLogY(on); });
    connect(x_axis_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        loss_->plot()->xAxis->setLabel(x_axis_->currentIndex() == 1 ? "tokens" : "step");
        redrawLoss();
    });
}

void LiveView::clear() {
    for (PlotPanel* p : {loss_, oacd_, convergence_, kv_}) p->clear();
    loss_points_.clear();
    points_ = 0;
    pythia_kv_x_.clear();
    pythia_kv_y_.clear();
    seen_.clear();
}

void LiveView::drawClaims() {
    std::set<double> shares;
    for (model::Design d : seen_)
        if (const double r = model::design_entry(d).claim.ratio; r > 0) shares.insert(r);
    for (double share : shares) {
        QVector<double> y;
        for (double v : pythia_kv_y_) y.push_back(v * share);
        kv_->setSeries(QString("%1% of Pythia").arg(100 * share, 0, 'g', 3), pythia_kv_x_, y,
                       {QColor(120, 120, 120), true});
    }
}

void LiveView::addLossPoint(const QString& series, const SeriesStyle& style, double step,
                            double value) {
    loss_points_[series].push_back({step, value});
    const double x = x_axis_->currentIndex() == 1 ? step * tokens_per_step_ : step;
    loss_->addPoint(series, x, value, style);
}

void LiveView::redrawLoss() {
    const double scale = x_axis_->currentIndex() == 1 ? tokens_per_step_ : 1.0;
    for (auto it = loss_points_.begin(); it != loss_points_.end(); ++it) {
        QVector<double> x, y;
        for (const QPointF& p : it.value()) {
            x.push_back(p.x() * scale);
            y.push_back(p.y());
        }
        loss_->setSeries(it.key(), x, y, {});  // the series exist: their style stays
    }
    loss_->resetView();
}

void LiveView::addStoredRun(workspace::Workspace& workspace, const store::RunRow& run) {
    workspace.for_each_metric(run.id, [&](const store::MetricPoint& m) {
        addMetric(run.id, run.model, run.phase, QString::fromStdString(m.name), m.step, m.epoch,
                  m.value);
    });
}

void LiveView::showExperiment(workspace::Workspace& workspace, qint64 experiment_id) {
    clear();
    if (const auto params = workspace.experiment_params(experiment_id); params && params->seq_length)
        setTokensPerStep(static_cast<double>(params->phase2.batch_size) *
                         static_cast<double>(*params->seq_length));
    for (const store::RunRow& r : workspace.trained_runs(experiment_id)) addStoredRun(workspace, r);
}

void LiveView::addMetric(qint64, model::Design model, store::Phase phase, const QString& name,
                         qint64 step, qint64, double value) {
    ++points_;
    const QString who = display_name(model);
    const bool first_sight = seen_.insert(model).second;
    if (name == names::kv_bytes) {  // logged by the evaluation of either model
        kv_->addPoint(who + " (measured)", static_cast<double>(step), value,
                      {model_color(model), false, true});
        if (model == model::Design::pythia) {
            pythia_kv_x_.push_back(static_cast<double>(step));
            pythia_kv_y_.push_back(value);
        }
        if (model == model::Design::pythia || first_sight) drawClaims();
        return;
    }
    if (first_sight && !pythia_kv_x_.isEmpty()) drawClaims();
    if (phase == store::Phase::phase2) {
        const QColor color = model_color(model);
        if (name == names::train_loss) addLossPoint(who + " training", {color}, step, value);
        if (name == names::val_loss)
            addLossPoint(who + " validation", {color, true, true}, step, value);
    } else if (phase == store::Phase::phase1) {
        const auto add = [&](PlotPanel* p, const QString& series, double v, int color) {
            p->addPoint(series, static_cast<double>(step), v, {series_color(color)});
        };
        if (name == names::oacd_loss) add(oacd_, "OACD loss", value, 0);
        if (name == names::dispersion_term) add(oacd_, "dispersion term", value, 2);
        if (name == names::centroid_term) add(oacd_, "centroid term", value, 3);
        if (name == names::convergence_rate) add(convergence_, "convergence rate", value, 4);
        if (name == names::context_rank_pct)
            add(convergence_, "context rank / context width", value / 100.0, 5);
        if (name == names::iterate_rank_pct)
            add(convergence_, "iterate rank / context width", value / 100.0, 6);
        if (name == names::effective_rank_pct)  // databases from before the two ranks
            add(convergence_, "effective rank / context width", value / 100.0, 5);
    }
}

void LiveView::setCaption(const QString& text) {
    caption_->setText(text);
    caption_->setVisible(!text.isEmpty());
}

QString LiveView::caption() const {
    return caption_->text();
}

}  // namespace cp::widgets
