// The experiment's parameters as a form, made from core's parameter schema
// (experiment/param_schema.h): one field per parameter, grouped as the schema groups them. Samples,
// sequence length and epochs start empty (they have no default anywhere); presets fill the form
// only when the user picks one; advanced parameters are folded away. Every change is checked by
// core's validator and the problems are shown inline, field by field.
#pragma once

#include <QWidget>
#include <map>
#include <set>
#include <optional>
#include <string>

#include "experiment/experiment_params.h"

class QCheckBox;
class QComboBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QSettings;

namespace cp::train {
struct ExperimentParams;
template <class Params>
struct BasicParamSpec;
using ParamSpec = BasicParamSpec<ExperimentParams>;
}

namespace cp::widgets {

class ParameterForm : public QWidget {
    Q_OBJECT
  public:
    explicit ParameterForm(QWidget* parent = nullptr);

    // The parameters as entered; the required ones stay unset when their field is empty.
    train::ExperimentParams params() const;
    // Problems of the form: a field core cannot read, then params().problems(). Empty when it
    // can be launched.
    std::vector<train::ExperimentParams::Problem> problems() const;
    bool isValid() const { return problems().empty(); }

    void setRequired(const QString& samples, const QString& seq_length, const QString& epochs);
    // A field's text by the parameter's key ("phase2.learning_rate"); unknown keys are ignored.
    void setValue(const std::string& key, const QString& text);
    QString value(const std::string& key) const;
    void applyPreset(int index);  // 1.. as in the preset list; 0 does nothing
    void setDatabase(const QString& path) { database_ = path; }

    // Shows every problem, also of fields not yet edited (after a launch was tried). Until then
    // the form shows only the problems of fields the user has edited: a new window does not
    // open with a list of errors before anything was typed.
    void revealProblems();
    QString shownProblems() const;

    // The last launched parameters (the user's own values, not defaults).
    void save(QSettings& settings) const;
    void restore(const QSettings& settings);

  signals:
    void validityChanged(bool valid);

  private slots:
    void revalidate();

  private:
    struct Field {
        const train::ParamSpec* spec = nullptr;
        QLineEdit* line = nullptr;
        QComboBox* combo = nullptr;
        QCheckBox* check = nullptr;
    };
    QWidget* makeField(const train::ParamSpec& spec);
    QWidget* makeFileField(const train::ParamSpec& spec, QLineEdit* line);
    // Reads the form into params; a field core cannot read becomes a problem.
    train::ExperimentParams read(std::vector<train::ExperimentParams::Problem>* problems) const;

    std::vector<Field> fields_;
    QComboBox* preset_;
    QGroupBox* advanced_;
    QLabel* problems_;
    QLabel* budget_;  // steps and tokens per phase, and the warning when too few
    QString database_;
    bool last_valid_ = false;
    bool reveal_all_ = false;
    std::set<std::string> touched_;  // fields the user edited
};

}  // namespace cp::widgets
