#include "report/experiment_report.h"

#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/build_info.h"
#include "common/error.h"
#include "model/model_registry.h"
#include "report/comparison.h"
#include "report/design_comparison.h"
#include "report/run_values.h"
#include "report/stamp.h"
#include "report/svg_plot.h"
#include "store/metric_names.h"
#include "experiment/context_diversity.h"
#include "experiment/param_schema.h"

namespace cp::report {
namespace {

using Kind = ReportBlock::Kind;

ReportBlock heading(const std::string& text, int level = 2) {
    ReportBlock b;
    b.kind = Kind::heading;
    b.text = text;
    b.level = level;
    return b;
}

ReportBlock paragraph(const std::string& text, Kind kind = Kind::paragraph) {
    ReportBlock b;
    b.kind = kind;
    b.text = text;
    return b;
}

ReportBlock table(const std::string& id, const std::string& caption,
                  std::vector<std::vector<std::string>> cells) {
    ReportBlock b;
    b.kind = Kind::table;
    b.id = id;
    b.text = caption;
    b.cells = std::move(cells);
    return b;
}

ReportBlock plot(const SvgPlot& p, const std::string& caption) {
    ReportBlock b;
    b.kind = Kind::plot;
    b.id = p.id;
    b.text = caption;
    b.svg = p.render();
    return b;
}

std::string column_color(const DesignColumn& col, int index) {
    // The workbench's colours for the designs; policies follow in turn.
    static const std::map<model::Design, int> by_design = {
        {model::Design::context_pythia, 0}, {model::Design::pythia, 1},
        {model::Design::pythia_256, 2},     {model::Design::projection_256, 3},
        {model::Design::pythia_gqa, 4},     {model::Design::pythia_mla, 5},
        {model::Design::context_kv, 7},     {model::Design::context_pythia_untrained, 6}};
    if (!col.policy.empty()) return svg_color(index);
    if (col.design == model::Design::pythia_input_cache) return "#f0a36e";  // Pythia's, lighter
    // Below half: the family's colour (its curve on the Pareto plane joins them).
    return svg_color(by_design.at(model::design_family(col.design)));
}

SvgPlot loss_plot(store::RunStore& store, const DesignComparison& c) {
    SvgPlot p;
    p.id = "loss-curves";
    p.title = "Training and validation loss" +
              std::string(c.n() > 1 ? " (mean ± 1 sd over the seeds)" : "");
    p.x_label = "optimizer step";
    p.y_label = "loss (nats/token)";
    int index = 0;
    for (const DesignColumn& col : c.columns) {
        ++index;
        if (!col.policy.empty()) continue;  // a policy does not train
        for (const char* metric : {names::train_loss, names::val_loss}) {
            const MeanCurve m = mean_curve(store, col.runs, metric);
            if (m.step.empty()) continue;
            SvgSeries s;
            const bool validation = std::string(metric) == names::val_loss;
            s.name = col.heading() + (validation ? " validation" : " training");
            s.color = column_color(col, index);
            s.dashed = validation;
            s.markers = validation;
            s.x = m.step;
            s.y = m.mean;
            if (m.runs > 1)
                for (std::size_t i = 0; i < m.mean.size(); ++i) {
                    s.band_low.push_back(m.mean[i] - m.sd[i]);
                    s.band_high.push_back(m.mean[i] + m.sd[i]);
                }
            p.series.push_back(s);
        }
    }
    return p;
}

SvgPlot position_plot(store::RunStore& store, const DesignComparison& c) {
    SvgPlot p;
    p.id = "loss-by-position";
    p.title = "Loss by position in the scored chunks" +
              std::string(c.n() > 1 ? " (mean ± 1 sd over the seeds)" : "");
    p.x_label = "position in the chunk (tokens)";
    p.y_label = "loss (nats/token)";
    for (const PositionSeries& ps : loss_by_position(store, c)) {
        const auto k = c.column_of(ps.design, ps.policy);
        SvgSeries s;
        s.name = ps.label;
        s.color = column_color(c.columns[*k], static_cast<int>(*k));
        s.dashed = !ps.policy.empty();
        s.x = ps.curve.step;
        s.y = ps.curve.mean;
        if (ps.curve.runs > 1)
            for (std::size_t i = 0; i < ps.curve.mean.size(); ++i) {
                s.band_low.push_back(ps.curve.mean[i] - ps.curve.sd[i]);
                s.band_high.push_back(ps.curve.mean[i] + ps.curve.sd[i]);
            }
        p.series.push_back(s);
    }
    return p;
}

SvgPlot kv_plot(const DesignComparison& c) {
    SvgPlot p;
    p.id = "kv-memory";
    p.title = "KV cache measured from the cache tensors";
    p.x_label = "tokens in the cache";
    p.y_label = "bytes per token";
    p.log_x = true;
    for (std::int64_t length : c.kv_lengths) p.x_ticks.push_back(static_cast<double>(length));
    int index = 0;
    for (const DesignColumn& col : c.columns) {
        SvgSeries s;
        s.name = col.heading();
        s.color = column_color(col, index++);
        s.markers = true;
        s.dashed = !col.policy.empty();  // a trained model's cache under a policy
        for (std::int64_t length : c.kv_lengths) {
            const auto& e = c.row(kv_row_key(length)).cells[static_cast<std::size_t>(index - 1)].estimate;
            if (!e) continue;
            s.x.push_back(static_cast<double>(length));
            s.y.push_back(e->mean);
        }
        if (!s.x.empty()) p.series.push_back(s);
    }
    if (c.baseline && !p.series.empty()) {
        SvgSeries half;
        half.name = "50% of Pythia";
        half.color = "#555555";
        half.dashed = true;
        for (std::int64_t length : c.kv_lengths)
            if (const auto& e = c.row(kv_row_key(length)).cells[*c.baseline].estimate) {
                half.x.push_back(static_cast<double>(length));
                half.y.push_back(e->mean / 2);
            }
        p.series.push_back(half);
    }
    return p;
}

SvgPlot pareto_plot(const DesignComparison& c, const std::string& measure) {
    const ParetoView v = pareto_view(c, measure);
    SvgPlot p;
    p.id = measure == "test_ppl"             ? std::string("pareto-ppl")
           : measure == "last_word_accuracy" ? std::string("pareto-last-word")
                                             : "pareto-" + measure;
    p.title = "KV cache against " + v.y_label + ": the Pareto front";
    p.x_label = v.x_label;
    p.y_label = v.y_label;
    int index = 0;
    for (const ParetoPoint& point : v.points) {
        SvgSeries s;
        s.kind = SvgSeries::Kind::points;
        const auto k = c.column_of(point.design, point.policy);
        s.color = column_color(c.columns[*k], index++);
        s.x = {point.x};
        s.y = {point.y};
        s.labels = {point.label};
        s.filled = point.on_front;
        if (point.y_interval) {
            s.error_low = {point.y_interval->low};
            s.error_high = {point.y_interval->high};
        }
        p.series.push_back(s);
    }
    // Each design family (a design and its quarter and eighth) and each policy at several
    // budgets: a thin line through its points, in its points' colour.
    for (const auto& curve : v.curves()) {
        SvgSeries s;
        const ParetoPoint& first = v.points[curve.front()];
        // As its first point is coloured (policies take colours in the points' order).
        s.color = column_color(c.columns[*c.column_of(first.design, first.policy)],
                               static_cast<int>(curve.front()));
        for (std::size_t i : curve) {
            s.x.push_back(v.points[i].x);
            s.y.push_back(v.points[i].y);
        }
        p.series.push_back(s);
    }
    SvgSeries front;
    front.name = "Pareto front (filled points)";
    front.color = "#333333";
    front.dashed = true;
    for (std::size_t i : v.front()) {
        front.x.push_back(v.points[i].x);
        front.y.push_back(v.points[i].y);
    }
    if (front.x.size() > 1) p.series.push_back(front);
    return p;
}

// Phase 1's context diversity (the first design's block): PCA, cosine histogram, rank.
void diversity_blocks(store::RunStore& store, const DesignComparison& c,
                      std::vector<ReportBlock>& out) {
    std::optional<std::int64_t> phase1;
    for (const DesignColumn& col : c.columns)
        if (col.phase1_run && !phase1) phase1 = col.phase1_run;
    if (!phase1) return;
    out.push_back(heading("Context diversity (Phase 1 run " + std::to_string(*phase1) + ")"));
    const store::RunRow run = store.run(*phase1);
    try {
        const train::ContextDiversity d =
            train::read_context_diversity(train::diversity_path(run.checkpoint_path));
        SvgPlot pca;
        pca.id = "diversity-pca";
        pca.title = "Context vectors of held-out text, first two principal components";
        pca.x_label = "PC 1";
        pca.y_label = "PC 2";
        SvgSeries points;
        points.kind = SvgSeries::Kind::points;
        points.x = d.pc1;
        points.y = d.pc2;
        pca.series.push_back(points);
        out.push_back(plot(pca, d.stage + ": " + std::to_string(d.pc1.size()) +
                                    " tokens; effective rank " +
                                    std::to_string(static_cast<int>(d.effective_rank_pct + 0.5)) +
                                    "% of the width"));
        SvgPlot cosine;
        cosine.id = "diversity-cosine";
        cosine.title = "Pairwise cosine similarity of the context vectors";
        cosine.x_label = "cosine similarity";
        cosine.y_label = "pairs";
        SvgSeries bars;
        bars.kind = SvgSeries::Kind::bars;
        const double bins = static_cast<double>(d.cosine_histogram.size());
        bars.bar_width = (d.cosine_max - d.cosine_min) / std::max(1.0, bins);
        for (std::size_t i = 0; i < d.cosine_histogram.size(); ++i) {
            bars.x.push_back(d.cosine_min + (static_cast<double>(i) + 0.5) * bars.bar_width);
            bars.y.push_back(static_cast<double>(d.cosine_histogram[i]));
        }
        cosine.series.push_back(bars);
        out.push_back(plot(cosine, "mean cosine " + std::to_string(d.mean_cosine)));
    } catch (const Error& e) {
        out.push_back(paragraph(std::string("The context vectors are not available: ") + e.what()));
    }
    SvgPlot rank;
    rank.id = "context-rank";
    rank.title = "Context rank over Phase 1 (the untrained block at iteration 0)";
    rank.x_label = "iteration";
    rank.y_label = "% of the context width";
    SvgSeries s;
    s.name = "context rank";
    s.markers = true;
    for (const store::MetricPoint& m : store.metrics(*phase1, names::context_rank_pct)) {
        s.x.push_back(static_cast<double>(m.step));
        s.y.push_back(m.value);
    }
    rank.series.push_back(s);
    out.push_back(plot(rank, "context_rank: the block run as a recurrence over held-out text"));
}

std::vector<std::vector<std::string>> parameter_cells(const std::string& params_json) {
    std::vector<std::vector<std::string>> cells = {{"parameter", "value"}};
    const auto j = nlohmann::json::parse(params_json, nullptr, false);
    if (!j.is_object()) return cells;
    const train::ExperimentParams p = train::ExperimentParams::from_json(j);
    for (const train::ParamSpec& spec : train::param_schema()) {
        if (spec.bookkeeping && spec.key != "models" && spec.key != "seeds") continue;
        cells.push_back({spec.key, spec.to_text(p)});
    }
    if (j.contains("preset_values"))
        for (const auto& v : j["preset_values"])
            if (v.is_string()) cells.push_back({"from the size preset", v.get<std::string>()});
    return cells;
}

std::vector<std::vector<std::string>> stamp_cells(const Stamp& s) {
    std::vector<std::vector<std::string>> cells = {{"what", "value"}};
    if (!s.recorded) {
        cells.push_back({"stamp", "recorded before the workbench kept one"});
        return cells;
    }
    cells.push_back({"workbench", s.version + " (commit " + s.commit + ")"});
    for (const auto& [name, version] : s.libraries) cells.push_back({name, version});
    cells.push_back({"device", s.device});
    for (const std::string& c : s.corpora) cells.push_back({"corpus", c});
    cells.push_back({"tokenizer", s.tokenizer});
    cells.push_back({"seed", std::to_string(s.seed) +
                                 (s.seeds > 1 ? " (one of " + std::to_string(s.seeds) + " seeds)" : "")});
    return cells;
}

std::string now_utc() {
    const std::time_t t = std::time(nullptr);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
    return buffer;
}

}  // namespace

const ReportBlock* ExperimentReport::find(const std::string& id) const {
    for (const ReportBlock& b : blocks)
        if (b.id == id) return &b;
    return nullptr;
}

namespace {

// The KV memory at each measured length, and the Pareto plane by each quality measure there is.
void kv_and_pareto_blocks(const DesignComparison& c, std::vector<ReportBlock>& b) {
    b.push_back(heading("KV memory"));
    b.push_back(plot(kv_plot(c), "bytes per token at each measured length"));
    b.push_back(heading("Pareto view"));
    for (const char* measure : {"test_ppl", "kl_to_full", "last_word_accuracy"}) {
        try {
            const SvgPlot pareto = pareto_plot(c, measure);
            if (pareto.series.empty()) continue;  // no column has this measure
            b.push_back(plot(pareto,
                             "KV bytes per token the cache held while the quality was scored "
                             "(measured); filled points are on the front" +
                                 std::string(c.n() > 1 ? "; error bars: 95% t-intervals" : "")));
        } catch (const Error& err) {
            b.push_back(paragraph(err.what()));
        }
    }
}

void reproducibility_blocks(const Stamp& s, std::vector<ReportBlock>& b) {
    b.push_back(heading("Reproducibility"));
    b.push_back(table("stamp", "What ran it, on what and on which data", stamp_cells(s)));
    if (s.recorded) {
        ReportBlock command = paragraph(s.command, Kind::code);
        command.id = "command";
        b.push_back(paragraph("The command that reproduces it:"));
        b.push_back(command);
    }
}

}  // namespace

ExperimentReport build_report(store::RunStore& store, std::int64_t experiment_id) {
    const DesignComparison c = compare_designs(store, experiment_id);
    const store::ExperimentRow e = store.experiment(experiment_id);
    ExperimentReport r;
    r.title = c.group_uid.empty() ? "Experiment " + std::to_string(e.id) + ": " + e.name
                                  : "Seed group " + c.group_uid.substr(0, 8) + " (" +
                                        std::to_string(c.members.size()) + " seeds): " + e.name;
    auto& b = r.blocks;
    b.push_back(heading(r.title, 1));
    std::string designs;
    for (const DesignColumn& col : c.columns) designs += (designs.empty() ? "" : ", ") + col.heading();
    b.push_back(paragraph(
        "The question: what does each design's KV cache cost in quality against the Pythia "
        "baseline, and against the other ways to save the same memory? Every design trained on "
        "the same chunks of real text with the same seeds; KV bytes are measured from the tensors "
        "each cache really stores. Compared here: " + designs + "; " + c.seeds_text() + "."));
    if (!c.not_learned.empty()) b.push_back(paragraph(verdict_text(c.not_learned), Kind::banner));
    if (!c.barely_learned.empty())
        b.push_back(paragraph(barely_learned_text(c.barely_learned), Kind::banner));
    b.push_back(heading("Parameters"));
    b.push_back(table("parameters", "The experiment's parameters as recorded",
                      parameter_cells(e.params_json)));
    b.push_back(heading("Comparison"));
    b.push_back(table("comparison",
                      c.n() > 1 ? "Mean ± sd over the seeds [95% t-interval]; ×Pythia: the ratio of the means"
                                : "One seed; ×Pythia: each value over Pythia's",
                      design_table_cells(c)));
    if (const auto d = difference_table_cells(c); !d.empty())
        b.push_back(table("differences", "Each design minus Pythia, from the per-seed paired differences", d));
    if (const auto k = kv_check_cells(c); !k.empty())
        b.push_back(table("kv-check", "KV cache against Pythia's: the claim, the measurement (the formula of the config)", k));
    for (const std::string& note : c.notes) b.push_back(paragraph("Note: " + note));
    b.push_back(heading("Loss curves"));
    b.push_back(plot(loss_plot(store, c), "Phase 2 of each design"));
    if (!c.kv_lengths.empty()) kv_and_pareto_blocks(c, b);
    if (const SvgPlot positions = position_plot(store, c); !positions.series.empty()) {
        b.push_back(heading("Loss by position"));
        b.push_back(plot(positions, "mean loss at each position of the scored test chunks "
                                    "(past 64, buckets); dashed: under a cache policy"));
    }
    diversity_blocks(store, c, b);
    reproducibility_blocks(stamp_of(store, e.id), b);
    b.push_back(paragraph("Written by the Context-Pythia Workbench " + std::string(workbench_version()) +
                          " (commit " + workbench_commit() + ") on " + now_utc() + "."));
    return r;
}

std::string report_html(const ExperimentReport& report) {
    std::ostringstream s;
    s << "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head>"
         "<meta charset=\"utf-8\"/><title>"
      << xml_escape(report.title)
      << "</title><style>"
         "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
         "table{border-collapse:collapse;margin:0.5em 0 1.2em;font-size:12px}"
         "th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}"
         "th:first-child,td:first-child{text-align:left}"
         "th{background:#f0f0f0}caption{text-align:left;font-style:italic;padding:2px 0}"
         ".banner{background:#fff4e5;color:#8a3b00;border:1px solid #f0b070;padding:8px;"
         "white-space:pre-wrap}"
         "pre{background:#f6f6f6;padding:8px;white-space:pre-wrap;word-break:break-all}"
         ".scroll{overflow-x:auto}figure{margin:1em 0}figcaption{font-size:12px;color:#555}"
         "</style></head><body>\n";
    for (const ReportBlock& b : report.blocks) {
        switch (b.kind) {
            case Kind::heading:
                s << "<h" << b.level << ">" << xml_escape(b.text) << "</h" << b.level << ">\n";
                break;
            case Kind::paragraph:
                s << "<p>" << xml_escape(b.text) << "</p>\n";
                break;
            case Kind::banner:
                s << "<div class=\"banner\">" << xml_escape(b.text) << "</div>\n";
                break;
            case Kind::code:
                s << "<pre id=\"" << xml_escape(b.id) << "\">" << xml_escape(b.text) << "</pre>\n";
                break;
            case Kind::table:
                s << "<div class=\"scroll\"><table id=\"" << xml_escape(b.id) << "\"><caption>"
                  << xml_escape(b.text) << "</caption>";
                for (std::size_t r = 0; r < b.cells.size(); ++r) {
                    s << "<tr>";
                    for (const std::string& cell : b.cells[r])
                        s << (r == 0 ? "<th>" : "<td>") << xml_escape(cell) << (r == 0 ? "</th>" : "</td>");
                    s << "</tr>";
                }
                s << "</table></div>\n";
                break;
            case Kind::plot:
                s << "<figure>" << b.svg << "<figcaption>" << xml_escape(b.text)
                  << "</figcaption></figure>\n";
                break;
        }
    }
    s << "</body></html>\n";
    return s.str();
}

}  // namespace cp::report
