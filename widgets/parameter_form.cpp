#include "widgets/parameter_form.h"
#include "widgets/narrow_combo.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QGroupBox>
#include <QIntValidator>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QSettings>
#include <QToolButton>
#include <QVBoxLayout>

#include "common/error.h"
#include "experiment/param_schema.h"
#include "experiment/plan.h"

namespace cp::widgets {
namespace {

struct Preset {
    const char* label;
    const char* samples;
    const char* seq;
    const char* epochs;
    const char* size;
    const char* lr;
};
// Presets are offered, never applied on their own.
const Preset kPresets[] = {
    {"Choose a preset…", "", "", "", "", ""},
    // The learning rate is left to the size preset (empty field).
    {"Smoke test (too short to learn) — tiny, 200 × 32, 1 epoch", "200", "32", "1", "tiny", ""},
    {"Tiny comparison — tiny, 2000 × 32, 3 epochs", "2000", "32", "3", "tiny", ""},
    {"Reference dev run — 70M, 10000 × 128, 10 epochs", "10000", "128", "10", "70m", ""},
};

// "seq-length" -> "seqLength": the field's object name (GUI tests find fields by it).
QString object_name(const std::string& cli) {
    QString out;
    bool upper = false;
    for (char c : cli) {
        if (c == '-') {
            upper = true;
            continue;
        }
        out += upper ? QChar(c).toUpper() : QChar(c);
        upper = false;
    }
    return out;
}

bool is_integer(train::ParamType t) {
    return t == train::ParamType::required_integer || t == train::ParamType::integer ||
           t == train::ParamType::seed;
}

}  // namespace

ParameterForm::ParameterForm(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);

    preset_ = new QComboBox(this);
    preset_->setObjectName("preset");
    make_narrow(preset_, 12);
    for (const Preset& p : kPresets) preset_->addItem(QString::fromUtf8(p.label));
    connect(preset_, qOverload<int>(&QComboBox::activated), this, &ParameterForm::applyPreset);
    layout->addWidget(preset_);

    // The basic parameters in their group's box; the rest folded under "Advanced parameters",
    // one section per group.
    auto* required = new QGroupBox(train::group_title(train::ParamGroup::required), this);
    auto* required_form = new QFormLayout(required);
    auto* basic = new QGroupBox("Run", this);
    auto* basic_form = new QFormLayout(basic);
    advanced_ = new QGroupBox("Advanced parameters", this);
    advanced_->setObjectName("advanced");
    advanced_->setCheckable(true);
    advanced_->setChecked(false);
    auto* inner = new QWidget(advanced_);
    auto* advanced_form = new QFormLayout(inner);
    // In a narrow dock a label goes above its field instead of pushing the field out of sight.
    for (QFormLayout* f : {required_form, basic_form, advanced_form})
        f->setRowWrapPolicy(QFormLayout::WrapLongRows);
    std::optional<train::ParamGroup> section;
    for (const train::ParamSpec& spec : train::param_schema()) {
        if (!spec.in_gui) continue;
        QWidget* field = makeField(spec);
        const QString label = QString::fromStdString(spec.label);
        if (spec.group == train::ParamGroup::required) {
            required_form->addRow(label, field);
        } else if (spec.basic) {
            basic_form->addRow(label, field);
        } else {
            if (section != spec.group) {
                section = spec.group;
                auto* heading =
                    new QLabel(QString("<b>%1</b>").arg(train::group_title(spec.group)), inner);
                advanced_form->addRow(heading);
            }
            advanced_form->addRow(label, field);
        }
    }
    layout->addWidget(required);
    layout->addWidget(basic);
    auto* adv_layout = new QVBoxLayout(advanced_);
    adv_layout->addWidget(inner);
    inner->setVisible(false);
    connect(advanced_, &QGroupBox::toggled, inner, &QWidget::setVisible);
    layout->addWidget(advanced_);

    // What the launch will train: optimizer steps and tokens per phase, and a warning (not a
    // refusal) when that is too little to learn; counted by core from the form's parameters.
    budget_ = new QLabel(this);
    budget_->setObjectName("budget");
    budget_->setWordWrap(true);
    budget_->setTextFormat(Qt::RichText);
    layout->addWidget(budget_);

    problems_ = new QLabel(this);
    problems_->setObjectName("problems");
    problems_->setWordWrap(true);
    problems_->setStyleSheet("color: #b00020;");
    layout->addWidget(problems_);
    layout->addStretch();
    revalidate();
}

QWidget* ParameterForm::makeField(const train::ParamSpec& spec) {
    Field f;
    f.spec = &spec;
    QWidget* widget = nullptr;
    const QString tip = QString::fromStdString(
        spec.help + (spec.unit.empty() ? "" : " [" + spec.unit + "]") +
        (spec.reference_note.empty() ? "" : " (" + spec.reference_note + ")"));
    if (spec.type == train::ParamType::flag) {
        f.check = new QCheckBox(this);
        connect(f.check, &QCheckBox::clicked, this, [this, key = spec.key] { touched_.insert(key); });
        connect(f.check, &QCheckBox::toggled, this, &ParameterForm::revalidate);
        widget = f.check;
    } else if (!spec.choices.empty()) {
        f.combo = new QComboBox(this);
        for (std::size_t i = 0; i < spec.choices.size(); ++i)
            f.combo->addItem(
                QString::fromStdString(i < spec.choice_labels.size() ? spec.choice_labels[i]
                                                                     : spec.choices[i]),
                QString::fromStdString(spec.choices[i]));
        make_narrow(f.combo, 8);  // long choice labels must not widen the dock
        const int d = f.combo->findData(QString::fromStdString(spec.default_text()));
        f.combo->setCurrentIndex(std::max(0, d));
        connect(f.combo, qOverload<int>(&QComboBox::activated), this,
                [this, key = spec.key] { touched_.insert(key); });
        connect(f.combo, qOverload<int>(&QComboBox::currentIndexChanged), this,
                &ParameterForm::revalidate);
        widget = f.combo;
    } else {
        f.line = new QLineEdit(this);
        std::string hint = spec.placeholder;
        if (hint.empty())
            hint = spec.type == train::ParamType::required_integer
                       ? "required"
                       : spec.default_text() +
                             (spec.reference_note.empty() ? "" : " (" + spec.reference_note + ")");
        f.line->setPlaceholderText(QString::fromStdString(hint));
        f.line->setClearButtonEnabled(true);
        if (is_integer(spec.type))
            f.line->setValidator(new QIntValidator(0, 2'000'000'000, f.line));
        // A field counts as edited once the user types in it (not when it is filled in).
        connect(f.line, &QLineEdit::textEdited, this, [this, key = spec.key] {
            touched_.insert(key);
            revalidate();
        });
        connect(f.line, &QLineEdit::textChanged, this, &ParameterForm::revalidate);
        widget = f.line;
    }
    widget->setObjectName(object_name(spec.cli));
    widget->setToolTip(tip);
    fields_.push_back(f);
    if (!spec.is_file) return widget;
    return makeFileField(spec, f.line);
}

// A file's field: a picker beside it and, where core can describe the file, what it is.
QWidget* ParameterForm::makeFileField(const train::ParamSpec& spec, QLineEdit* line) {
    auto* box = new QWidget(this);
    auto* column = new QVBoxLayout(box);
    column->setContentsMargins(0, 0, 0, 0);
    auto* row = new QHBoxLayout;
    row->addWidget(line, 1);
    auto* choose = new QToolButton(box);
    choose->setText("Choose…");
    choose->setObjectName(object_name(spec.cli) + "Choose");
    row->addWidget(choose);
    column->addLayout(row);
    connect(choose, &QToolButton::clicked, this, [this, line, key = spec.key] {
        const QString file = QFileDialog::getOpenFileName(this, "Choose a file", line->text());
        if (file.isEmpty()) return;
        touched_.insert(key);
        line->setText(file);
    });
    if (spec.describe) {
        auto* about = new QLabel(box);
        about->setObjectName(object_name(spec.cli) + "About");
        about->setWordWrap(true);
        about->setStyleSheet("color: palette(mid);");
        about->hide();
        column->addWidget(about);
        connect(line, &QLineEdit::textChanged, this, [about, describe = spec.describe](const QString& t) {
            if (t.trimmed().isEmpty()) {
                about->hide();
                return;
            }
            try {
                about->setText(QString::fromStdString(describe(t.trimmed().toStdString())));
            } catch (const std::exception& e) {
                about->setText(QString::fromStdString(e.what()));
            }
            about->show();
        });
    }
    return box;
}

train::ExperimentParams ParameterForm::read(
    std::vector<train::ExperimentParams::Problem>* problems) const {
    train::ExperimentParams p;
    for (const Field& f : fields_) {
        const train::ParamSpec& spec = *f.spec;
        try {
            if (f.check) {
                spec.set(p, f.check->isChecked());
            } else if (f.combo) {
                spec.set(p, spec.parse_text(f.combo->currentData().toString().toStdString()));
            } else {
                const QString text = f.line->text().trimmed();
                if (text.isEmpty()) continue;  // the default (or, for required ones, unset)
                nlohmann::json v;
                try {
                    v = spec.parse_text(text.toStdString());
                } catch (const Error&) {
                    // Also the user's locale ("0,01").
                    bool ok = false;
                    const double d = QLocale().toDouble(text, &ok);
                    if (!ok || spec.type != train::ParamType::real) throw;
                    v = d;
                }
                spec.set(p, v);
            }
        } catch (const Error& e) {
            if (problems) problems->push_back({spec.key, e.what()});
        }
    }
    p.db = database_.toStdString();
    return p;
}

train::ExperimentParams ParameterForm::params() const {
    return read(nullptr);
}

std::vector<train::ExperimentParams::Problem> ParameterForm::problems() const {
    std::vector<train::ExperimentParams::Problem> found;
    const train::ExperimentParams p = read(&found);
    for (auto& problem : p.problems()) found.push_back(std::move(problem));
    return found;
}

void ParameterForm::revalidate() {
    std::vector<train::ExperimentParams::Problem> unread;
    const train::ExperimentParams params = read(&unread);
    const auto budget = unread.empty() && params.problems().empty()
                            ? train::training_budget(params, train::LaunchMode::full_comparison)
                            : std::nullopt;
    QString html;
    if (budget) {
        const auto lines = QString::fromStdString(budget->describe()).trimmed().split('\n');
        for (const QString& line : lines)
            html += line.startsWith("Warning:")
                        ? "<div style='color:#a05a00'><b>⚠</b> " + line.mid(9).toHtmlEscaped() +
                              "</div>"
                        : "<div>" + line.toHtmlEscaped() + "</div>";
    }
    budget_->setText(html);
    budget_->setVisible(budget.has_value());
    const auto found = problems();
    QStringList lines;
    for (const auto& p : found)
        if (reveal_all_ || touched_.count(p.field)) lines << QString::fromStdString(p.message);
    problems_->setText(lines.join("\n"));
    // Mark the typed fields that are wrong.
    for (const Field& f : fields_) {
        if (!f.line) continue;
        bool bad = false;
        for (const auto& p : found) bad = bad || p.field == f.spec->key;
        const bool shown = reveal_all_ || touched_.count(f.spec->key);
        f.line->setStyleSheet(bad && shown && !f.line->text().isEmpty()
                                  ? "border: 1px solid #b00020;"
                                  : "");
    }
    const bool valid = found.empty();
    if (valid != last_valid_) {
        last_valid_ = valid;
        emit validityChanged(valid);
    }
}

void ParameterForm::revealProblems() {
    reveal_all_ = true;
    revalidate();
}

QString ParameterForm::shownProblems() const {
    return problems_->text();
}

void ParameterForm::setValue(const std::string& key, const QString& text) {
    for (const Field& f : fields_) {
        if (f.spec->key != key) continue;
        if (f.line) f.line->setText(text);
        if (f.check) f.check->setChecked(text == "true");
        if (f.combo)
            if (const int i = f.combo->findData(text); i >= 0) f.combo->setCurrentIndex(i);
    }
}

QString ParameterForm::value(const std::string& key) const {
    for (const Field& f : fields_) {
        if (f.spec->key != key) continue;
        if (f.line) return f.line->text();
        if (f.check) return f.check->isChecked() ? "true" : "false";
        if (f.combo) return f.combo->currentData().toString();
    }
    return {};
}

void ParameterForm::setRequired(const QString& samples, const QString& seq_length,
                                const QString& epochs) {
    setValue("samples", samples);
    setValue("seq_length", seq_length);
    setValue("epochs", epochs);
}

void ParameterForm::applyPreset(int index) {
    if (index <= 0 || index >= static_cast<int>(std::size(kPresets))) return;
    const Preset& p = kPresets[index];
    for (const char* key : {"samples", "seq_length", "epochs", "size", "phase2.learning_rate"})
        touched_.insert(key);  // the user chose these values
    setRequired(p.samples, p.seq, p.epochs);
    setValue("size", p.size);
    setValue("phase2.learning_rate", p.lr);
    preset_->setCurrentIndex(0);  // a preset fills the form once; the form is the truth
}

void ParameterForm::save(QSettings& s) const {
    s.beginGroup("parameters");
    for (const Field& f : fields_)
        s.setValue(QString::fromStdString(f.spec->key), value(f.spec->key));
    s.endGroup();
}

void ParameterForm::restore(const QSettings& s) {
    for (const Field& f : fields_) {
        const QString key = "parameters/" + QString::fromStdString(f.spec->key);
        if (s.contains(key)) setValue(f.spec->key, s.value(key).toString());
    }
}

}  // namespace cp::widgets
