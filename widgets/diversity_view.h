// How diverse the context vectors are, after Phase 1 and after Phase 2: a 2-D PCA scatter of
// contexts of held-out text (coloured by position or token frequency; hover names the token), a
// histogram of pairwise cosine similarities, and effective rank over Phase 1's iterations.
#pragma once

#include <QWidget>
#include <optional>

#include "experiment/context_diversity.h"

class QComboBox;
class QLabel;

namespace cp::workspace {
class Workspace;
}

namespace cp::widgets {

class PlotPanel;

class DiversityView : public QWidget {
    Q_OBJECT
  public:
    explicit DiversityView(QWidget* parent = nullptr);
    // The open database it reads (MainWindow owns it); null: nothing to show.
    void setWorkspace(workspace::Workspace* workspace);
    QString showRun(qint64 run_id);  // error message or ""
    PlotPanel* histogramPlot() const { return histogram_; }
    PlotPanel* rankPlot() const { return rank_; }  // effective rank over Phase 1
    int choiceCount() const;

  public slots:
    void refreshChoices();

  private:
    void drawScatter();
    void hover(double px, double py);
    workspace::Workspace* workspace_ = nullptr;
    QComboBox *run_, *colour_;
    QLabel *summary_, *hover_;
    PlotPanel *scatter_, *histogram_, *rank_;
    std::optional<train::ContextDiversity> data_;
};

}  // namespace cp::widgets
