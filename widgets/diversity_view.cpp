#include "widgets/diversity_view.h"
#include "widgets/narrow_combo.h"

#include <qcustomplot.h>

#include <QComboBox>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "store/metric_names.h"
#include "store/run_store.h"
#include "workspace/workspace.h"
#include "widgets/kinds_meta.h"
#include "widgets/plot_panel.h"

namespace cp::widgets {
namespace {
constexpr int kBuckets = 6;  // colour classes of the scatter
}

DiversityView::DiversityView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel("Context vectors of", this));
    run_ = new QComboBox(this);
    run_->setObjectName("diversityRun");
    make_narrow(run_, 20);
    top->addWidget(run_, 1);
    top->addWidget(new QLabel("colour by", this));
    colour_ = new QComboBox(this);
    make_narrow(colour_, 12);
    colour_->addItem("position in the text");
    colour_->addItem("token frequency (training split)");
    top->addWidget(colour_);
    layout->addLayout(top);
    summary_ = new QLabel(this);
    summary_->setObjectName("diversitySummary");
    summary_->setWordWrap(true);
    layout->addWidget(summary_);

    scatter_ = new PlotPanel("PCA of context vectors (held-out text)", "PC 1", "PC 2", this);
    histogram_ = new PlotPanel("Pairwise cosine similarity", "cosine similarity", "pairs", this);
    histogram_->setLegendWanted(false);  // one series: the title and the axes say what it is
    rank_ = new PlotPanel("Context rank over Phase 1 (held-out text)", "iteration",
                          "% of context width", this);
    hover_ = new QLabel(this);
    hover_->setObjectName("diversityHover");
    auto* grid = new QGridLayout;
    grid->addWidget(scatter_, 0, 0, 2, 1);
    grid->addWidget(histogram_, 0, 1);
    grid->addWidget(rank_, 1, 1);
    grid->setColumnStretch(0, 3);
    grid->setColumnStretch(1, 2);
    layout->addLayout(grid, 1);
    layout->addWidget(hover_);

    connect(run_, qOverload<int>(&QComboBox::activated), this,
            [this] { showRun(run_->currentData().toLongLong()); });
    connect(colour_, qOverload<int>(&QComboBox::currentIndexChanged), this,
            &DiversityView::drawScatter);
    connect(scatter_->plot(), &QCustomPlot::mouseMove, this,
            [this](QMouseEvent* e) { hover(e->position().x(), e->position().y()); });
}

void DiversityView::setWorkspace(workspace::Workspace* workspace) {
    workspace_ = workspace;
    refreshChoices();
}

int DiversityView::choiceCount() const {
    return run_->count();
}

void DiversityView::refreshChoices() {
    const QVariant chosen = run_->currentData();
    run_->clear();
    if (!workspace_) return;
    try {
        for (const store::RunRow& r : workspace_->diversity_runs())
            run_->addItem(
                QString("run %1: %2 — %3")
                    .arg(r.id)
                    .arg(display_name(r.model))
                    .arg(r.phase == store::Phase::phase1 ? "after Phase 1" : "after Phase 2"),
                static_cast<qlonglong>(r.id));
    } catch (const Error& e) {
        summary_->setText(QString("Cannot read the database: ") + e.what());
    }
    if (const int i = run_->findData(chosen); i >= 0) run_->setCurrentIndex(i);
}

QString DiversityView::showRun(qint64 run_id) {
    if (!workspace_) return "no database is open";
    try {
        data_ = workspace_->context_diversity(run_id);
        if (const int i = run_->findData(static_cast<qlonglong>(run_id)); i >= 0)
            run_->setCurrentIndex(i);
        summary_->setText(QString("<b>%1</b> — %2 context vectors of width %3 (the recurrence over "
                                  "held-out text); their effective rank %4 "
                                  "(%5% of the width); mean pairwise cosine %6; the two components "
                                  "explain %7% and %8% "
                                  "of the variance.")
                              .arg(QString::fromStdString(data_->stage))
                              .arg(data_->pc1.size())
                              .arg(data_->context_dim)
                              .arg(data_->effective_rank, 0, 'f', 1)
                              .arg(data_->effective_rank_pct, 0, 'f', 1)
                              .arg(data_->mean_cosine, 0, 'f', 3)
                              .arg(100 * data_->explained_variance[0], 0, 'f', 1)
                              .arg(100 * data_->explained_variance[1], 0, 'f', 1));
        drawScatter();
        // Histogram of cosine similarities.
        histogram_->clear();
        auto* bars = new QCPBars(histogram_->plot()->xAxis, histogram_->plot()->yAxis);
        const int bins = static_cast<int>(data_->cosine_histogram.size());
        const double width = (data_->cosine_max - data_->cosine_min) / std::max(1, bins);
        QVector<double> x, y;
        for (int b = 0; b < bins; ++b) {
            x.push_back(data_->cosine_min + (b + 0.5) * width);
            y.push_back(static_cast<double>(data_->cosine_histogram[static_cast<std::size_t>(b)]));
        }
        bars->setData(x, y);
        bars->setWidth(width * 0.9);
        bars->setName("pairs of contexts");
        bars->setBrush(series_color(0));
        bars->setPen(Qt::NoPen);
        histogram_->plot()->rescaleAxes();
        histogram_->plot()->xAxis->setRange(-1, 1);
        histogram_->plot()->replot();
        // Effective rank over Phase 1: this run's, or the Phase 1 its ContextBlock came from (the
        // run's provenance, whichever experiment ran it).
        rank_->clear();
        const std::optional<std::int64_t> phase1 = workspace_->phase1_of(run_id);
        if (phase1) {
            // The contexts Phase 2 reads (context rank), and the noisy iterate the loss sees;
            // runs from before the two were told apart logged the iterate's rank only.
            const std::pair<const char*, const char*> series[] = {
                {names::context_rank_pct, "context rank"},
                {names::iterate_rank_pct, "iterate rank"},
                {names::effective_rank_pct, "iterate rank (older run)"}};
            int colour = 5;
            for (const auto& [metric, label] : series) {
                QVector<double> ix, iy;
                for (const store::MetricPoint& p : workspace_->metrics(*phase1, metric)) {
                    ix.push_back(static_cast<double>(p.step));
                    iy.push_back(p.value);
                }
                if (!ix.isEmpty())
                    rank_->setSeries(label, ix, iy, {series_color(colour), colour != 5, true});
                ++colour;
            }
        }
        rank_->resetView();
        return {};
    } catch (const Error& e) {
        summary_->setText("<span style='color:#b00020'>" + QString(e.what()).toHtmlEscaped() +
                          "</span>");
        return e.what();
    }
}

void DiversityView::drawScatter() {
    scatter_->clear();
    if (!data_) return;
    QCustomPlot* plot = scatter_->plot();
    const std::size_t n = data_->pc1.size();
    const bool by_frequency = colour_->currentIndex() == 1;
    // Bucket by position (equal ranges) or by log frequency (equal ranges of log10).
    std::vector<double> key(n);
    for (std::size_t i = 0; i < n; ++i)
        key[i] = by_frequency ? std::log10(std::max(data_->frequencies[i], 1e-7))
                              : static_cast<double>(data_->positions[i]);
    const auto [lo_it, hi_it] = std::minmax_element(key.begin(), key.end());
    const double lo = n ? *lo_it : 0, hi = n ? *hi_it : 1;
    QVector<QVector<double>> bx(kBuckets), by(kBuckets);
    for (std::size_t i = 0; i < n; ++i) {
        const int b =
            hi > lo ? std::min(kBuckets - 1, static_cast<int>((key[i] - lo) / (hi - lo) * kBuckets))
                    : 0;
        bx[b].push_back(data_->pc1[i]);
        by[b].push_back(data_->pc2[i]);
    }
    for (int b = 0; b < kBuckets; ++b) {
        QCPGraph* g = plot->addGraph();
        const double from = lo + (hi - lo) * b / kBuckets, to = lo + (hi - lo) * (b + 1) / kBuckets;
        g->setName(by_frequency
                       ? QString("freq 1e%1 – 1e%2").arg(from, 0, 'f', 1).arg(to, 0, 'f', 1)
                       : QString("tokens %1–%2").arg(std::lround(from)).arg(std::lround(to)));
        g->setLineStyle(QCPGraph::lsNone);
        // A sequential palette: early/rare = light, late/frequent = dark.
        const QColor c =
            QColor::fromHsvF(0.6 - 0.5 * b / (kBuckets - 1), 0.75, 0.9 - 0.4 * b / kBuckets);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c, 5));
        g->setData(bx[b], by[b]);
    }
    plot->rescaleAxes();
    plot->replot();
}

void DiversityView::hover(double px, double py) {
    if (!data_) return;
    QCustomPlot* plot = scatter_->plot();
    double best = 1e18;
    std::size_t found = 0;
    for (std::size_t i = 0; i < data_->pc1.size(); ++i) {
        const double dx = plot->xAxis->coordToPixel(data_->pc1[i]) - px;
        const double dy = plot->yAxis->coordToPixel(data_->pc2[i]) - py;
        if (dx * dx + dy * dy < best) {
            best = dx * dx + dy * dy;
            found = i;
        }
    }
    if (best > 100) {
        hover_->clear();
        return;
    }
    hover_->setText(QString("token “%1” at position %2, %3 of the training tokens")
                        .arg(QString::fromStdString(data_->tokens[found]).toHtmlEscaped())
                        .arg(data_->positions[found])
                        .arg(data_->frequencies[found], 0, 'g', 3));
}

}  // namespace cp::widgets
