#include "widgets/parameter_form.h"

#include <QComboBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QIntValidator>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QSettings>
#include <QVBoxLayout>

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
    {"Smoke test — tiny, 200 × 32, 1 epoch", "200", "32", "1", "tiny", "0.01"},
    {"Tiny comparison — tiny, 2000 × 32, 3 epochs", "2000", "32", "3", "tiny", "0.01"},
    {"Reference dev run — 70M, 10000 × 128, 10 epochs", "10000", "128", "10", "70m", "0.0001"},
};

std::optional<std::int64_t> integer(const QLineEdit* e) {
    bool ok = false;
    const qlonglong v = e->text().trimmed().toLongLong(&ok);
    if (!ok) return std::nullopt;
    return static_cast<std::int64_t>(v);
}

}  // namespace

ParameterForm::ParameterForm(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);

    preset_ = new QComboBox(this);
    preset_->setObjectName("preset");
    for (const Preset& p : kPresets) preset_->addItem(QString::fromUtf8(p.label));
    connect(preset_, qOverload<int>(&QComboBox::activated), this, &ParameterForm::applyPreset);
    layout->addWidget(preset_);

    auto* required = new QGroupBox("Experiment (required)", this);
    auto* form = new QFormLayout(required);
    samples_ = addLine("samples", "required, e.g. 2000");
    seq_length_ = addLine("seqLength", "required, e.g. 32");
    epochs_ = addLine("epochs", "required, e.g. 3");
    for (QLineEdit* e : {samples_, seq_length_, epochs_})
        e->setValidator(new QIntValidator(1, 1'000'000'000, e));
    form->addRow("Samples", samples_);
    form->addRow("Sequence length", seq_length_);
    form->addRow("Epochs (at most)", epochs_);
    layout->addWidget(required);

    auto* basic = new QGroupBox("Run", this);
    auto* basic_form = new QFormLayout(basic);
    size_ = new QComboBox(this);
    size_->setObjectName("size");
    size_->addItem("tiny (fast, for checks)", "tiny");
    size_->addItem("70M (Pythia-70M widths)", "70m");
    name_ = addLine("name", "default: size, samples × length, seed");
    seed_ = addLine("seed", "0");
    seed_->setValidator(new QIntValidator(0, 2'000'000'000, seed_));
    basic_form->addRow("Model size", size_);
    basic_form->addRow("Name", name_);
    basic_form->addRow("Seed", seed_);
    layout->addWidget(basic);

    advanced_ = new QGroupBox("Advanced parameters", this);
    advanced_->setObjectName("advanced");
    advanced_->setCheckable(true);
    advanced_->setChecked(false);
    auto* inner = new QWidget(advanced_);
    auto* adv = new QFormLayout(inner);
    const train::ExperimentParams reference;
    corpus_ = new QComboBox(this);
    corpus_->addItem("Brown", "brown");
    corpus_->addItem("nlp-corpus", "nlp");
    corpus_->addItem("Brown + nlp-corpus", "brown,nlp");
    device_ = new QComboBox(this);
    device_->addItem("auto (GPU when present)", "auto");
    device_->addItem("CPU", "cpu");
    device_->addItem("CUDA GPU", "cuda");
    precision_ = new QComboBox(this);
    precision_->setObjectName("precision");
    precision_->addItem("float32", "fp32");
    precision_->addItem("bf16 autocast (Phase 2; weights float32)", "bf16");
    lr_ = addLine("lr", QString::number(reference.phase2.learning_rate));
    batch_ = addLine("batchSize", QString::number(reference.phase2.batch_size));
    patience_ = addLine("patience", QString::number(reference.phase2.patience) + " (off)");
    p1_iterations_ = addLine("p1MaxIterations", QString::number(reference.phase1.max_iterations));
    eval_chunks_ = addLine("evalChunks", QString::number(reference.eval.max_test_chunks));
    eval_passages_ = addLine("evalPassages", QString::number(reference.eval.max_lambada_passages));
    threads_ = addLine("threads", "all cores but one (the GUI keeps one)");
    for (QLineEdit* e : {batch_, patience_, p1_iterations_, eval_chunks_, eval_passages_, threads_})
        e->setValidator(new QIntValidator(0, 1'000'000'000, e));
    adv->addRow("Corpus", corpus_);
    adv->addRow("Device", device_);
    adv->addRow("Precision", precision_);
    adv->addRow("Learning rate (Phase 2)", lr_);
    adv->addRow("Batch size", batch_);
    adv->addRow("Early-stop patience", patience_);
    adv->addRow("Phase 1 iterations (max)", p1_iterations_);
    adv->addRow("Test chunks evaluated", eval_chunks_);
    adv->addRow("Last-word passages", eval_passages_);
    adv->addRow("CPU threads", threads_);
    auto* adv_layout = new QVBoxLayout(advanced_);
    adv_layout->addWidget(inner);
    inner->setVisible(false);
    connect(advanced_, &QGroupBox::toggled, inner, &QWidget::setVisible);
    layout->addWidget(advanced_);

    problems_ = new QLabel(this);
    problems_->setObjectName("problems");
    problems_->setWordWrap(true);
    problems_->setStyleSheet("color: #b00020;");
    layout->addWidget(problems_);
    layout->addStretch();

    for (QComboBox* c : {size_, corpus_, device_, precision_})
        connect(c, qOverload<int>(&QComboBox::currentIndexChanged), this,
                &ParameterForm::revalidate);
    revalidate();
}

QLineEdit* ParameterForm::addLine(const QString& name, const QString& placeholder) {
    auto* e = new QLineEdit(this);
    e->setObjectName(name);
    e->setPlaceholderText(placeholder);
    e->setClearButtonEnabled(true);
    connect(e, &QLineEdit::textChanged, this, &ParameterForm::revalidate);
    return e;
}

train::ExperimentParams ParameterForm::params() const {
    train::ExperimentParams p;
    p.samples = integer(samples_);
    p.seq_length = integer(seq_length_);
    p.epochs = integer(epochs_);
    p.size = size_->currentData().toString().toStdString();
    p.name = name_->text().trimmed().toStdString();
    if (const auto s = integer(seed_)) p.seed = static_cast<std::uint64_t>(*s);
    p.corpora.clear();
    for (const QString& c : corpus_->currentData().toString().split(','))
        p.corpora.push_back(c.toStdString());
    p.device = device_->currentData().toString().toStdString();
    p.precision = precision_->currentData().toString().toStdString();
    if (!lr_->text().trimmed().isEmpty()) {
        bool ok = false;
        // Both "0.01" and the user's locale ("0,01") are accepted.
        double v = lr_->text().trimmed().toDouble(&ok);
        if (!ok) v = QLocale().toDouble(lr_->text().trimmed(), &ok);
        p.phase2.learning_rate = ok ? v : -1.0;  // -1: the validator names the field
    }
    if (const auto v = integer(batch_)) p.phase2.batch_size = *v;
    if (const auto v = integer(patience_)) p.phase2.patience = *v;
    if (const auto v = integer(p1_iterations_)) p.phase1.max_iterations = *v;
    if (const auto v = integer(eval_chunks_)) p.eval.max_test_chunks = *v;
    if (const auto v = integer(eval_passages_)) p.eval.max_lambada_passages = *v;
    if (const auto v = integer(threads_)) p.threads = *v;
    p.db = database_.toStdString();
    return p;
}

std::vector<train::ExperimentParams::Problem> ParameterForm::problems() const {
    return params().problems();
}

void ParameterForm::revalidate() {
    const auto found = problems();
    QStringList lines;
    for (const auto& p : found) lines << QString::fromStdString(p.message);
    problems_->setText(lines.join("\n"));
    // Mark the required fields that are missing or wrong.
    const auto mark = [&](QLineEdit* e, const char* field) {
        bool bad = false;
        for (const auto& p : found) bad = bad || p.field == field;
        e->setStyleSheet(bad && !e->text().isEmpty() ? "border: 1px solid #b00020;" : "");
    };
    mark(samples_, "samples");
    mark(seq_length_, "seq_length");
    mark(epochs_, "epochs");
    const bool valid = found.empty();
    if (valid != last_valid_) {
        last_valid_ = valid;
        emit validityChanged(valid);
    }
}

void ParameterForm::setRequired(const QString& samples, const QString& seq_length,
                                const QString& epochs) {
    samples_->setText(samples);
    seq_length_->setText(seq_length);
    epochs_->setText(epochs);
}

void ParameterForm::applyPreset(int index) {
    if (index <= 0 || index >= static_cast<int>(std::size(kPresets))) return;
    const Preset& p = kPresets[index];
    setRequired(p.samples, p.seq, p.epochs);
    size_->setCurrentIndex(size_->findData(QString(p.size)));
    lr_->setText(p.lr);
    preset_->setCurrentIndex(0);  // a preset fills the form once; the form is the truth
}

void ParameterForm::save(QSettings& s) const {
    s.beginGroup("parameters");
    s.setValue("samples", samples_->text());
    s.setValue("seq_length", seq_length_->text());
    s.setValue("epochs", epochs_->text());
    s.setValue("size", size_->currentData());
    s.setValue("name", name_->text());
    s.setValue("seed", seed_->text());
    s.setValue("corpus", corpus_->currentData());
    s.setValue("device", device_->currentData());
    s.setValue("precision", precision_->currentData());
    s.setValue("lr", lr_->text());
    s.setValue("batch", batch_->text());
    s.setValue("patience", patience_->text());
    s.setValue("p1_iterations", p1_iterations_->text());
    s.setValue("eval_chunks", eval_chunks_->text());
    s.setValue("eval_passages", eval_passages_->text());
    s.setValue("threads", threads_->text());
    s.endGroup();
}

void ParameterForm::restore(const QSettings& s) {
    const auto v = [&](const char* k) { return s.value(QString("parameters/") + k).toString(); };
    setRequired(v("samples"), v("seq_length"), v("epochs"));
    if (const int i = size_->findData(v("size")); i >= 0) size_->setCurrentIndex(i);
    if (const int i = corpus_->findData(v("corpus")); i >= 0) corpus_->setCurrentIndex(i);
    if (const int i = device_->findData(v("device")); i >= 0) device_->setCurrentIndex(i);
    if (const int i = precision_->findData(v("precision")); i >= 0) precision_->setCurrentIndex(i);
    name_->setText(v("name"));
    seed_->setText(v("seed"));
    lr_->setText(v("lr"));
    batch_->setText(v("batch"));
    patience_->setText(v("patience"));
    p1_iterations_->setText(v("p1_iterations"));
    eval_chunks_->setText(v("eval_chunks"));
    eval_passages_->setText(v("eval_passages"));
    threads_->setText(v("threads"));
}

}  // namespace cp::widgets
