// The experiment's parameters as a form. Samples, sequence length and epochs start empty (they
// have no default anywhere); presets fill the form only when the user picks one; advanced
// parameters are folded away. Every change is checked by core's validator and the problems are
// shown inline, field by field.
#pragma once

#include <QWidget>
#include <optional>

#include "train/experiment_params.h"

class QComboBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QSettings;

namespace cp::widgets {

class ParameterForm : public QWidget {
    Q_OBJECT
  public:
    explicit ParameterForm(QWidget* parent = nullptr);

    // The parameters as entered; the required ones stay unset when their field is empty.
    train::ExperimentParams params() const;
    // Problems of params(): empty when it can be launched.
    std::vector<train::ExperimentParams::Problem> problems() const;
    bool isValid() const { return problems().empty(); }

    void setRequired(const QString& samples, const QString& seq_length, const QString& epochs);
    void applyPreset(int index);  // 1.. as in the preset list; 0 does nothing
    void setDatabase(const QString& path) { database_ = path; }

    // The last launched parameters (the user's own values, not defaults).
    void save(QSettings& settings) const;
    void restore(const QSettings& settings);

  signals:
    void validityChanged(bool valid);

  private slots:
    void revalidate();

  private:
    QLineEdit* addLine(const QString& name, const QString& placeholder);
    QLineEdit *samples_, *seq_length_, *epochs_, *name_, *seed_;
    QLineEdit *lr_, *batch_, *patience_, *p1_iterations_, *eval_chunks_, *eval_passages_, *threads_;
    QComboBox *preset_, *size_, *corpus_, *device_, *precision_;
    QGroupBox* advanced_;
    QLabel* problems_;
    QString database_;
    bool last_valid_ = false;
};

}  // namespace cp::widgets
