#include "report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

#include "report/label_layout.h"

namespace cp::report {
namespace {

std::string num(double v) {
    std::ostringstream s;
    s.imbue(std::locale::classic());
    s << std::fixed << std::setprecision(2) << v;
    return s.str();
}

// A tick label: plain for round numbers, scientific for very large or small ones.
std::string tick_text(double v) {
    std::ostringstream s;
    s.imbue(std::locale::classic());
    const double a = std::fabs(v);
    if (v != 0 && (a >= 1e6 || a < 1e-3))
        s << std::setprecision(2) << std::scientific << v;
    else
        s << std::setprecision(6) << v;
    return s.str();
}

struct Axis {
    double low = 0, high = 1;
    bool log = false;
    double transform(double v) const { return log ? std::log10(std::max(v, 1e-300)) : v; }
    // Round ticks across the range: 1, 2, 5 x 10^k steps; decades on a log axis.
    std::vector<double> ticks() const {
        std::vector<double> t;
        if (log) {
            for (double e = std::floor(transform(low)); e <= std::ceil(transform(high)); ++e)
                if (e >= transform(low) - 1e-9 && e <= transform(high) + 1e-9) t.push_back(std::pow(10.0, e));
            if (t.size() < 2) t = {low, high};
            return t;
        }
        const double span = high - low;
        const double raw = span / 5.0;
        const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
        double step = magnitude;
        for (double m : {1.0, 2.0, 5.0, 10.0})
            if (raw <= m * magnitude) {
                step = m * magnitude;
                break;
            }
        for (double v = std::ceil(low / step) * step; v <= high + 1e-9 * span; v += step)
            t.push_back(std::fabs(v) < 1e-12 * span ? 0.0 : v);
        return t;
    }
};

Axis axis_of(const std::vector<const std::vector<double>*>& all, bool log, bool from_zero) {
    Axis a;
    a.log = log;
    double lo = std::numeric_limits<double>::max(), hi = -lo;
    for (const auto* v : all)
        for (double x : *v)
            if (std::isfinite(x) && (!log || x > 0)) {
                lo = std::min(lo, x);
                hi = std::max(hi, x);
            }
    if (lo > hi) {
        lo = log ? 1 : 0;
        hi = log ? 10 : 1;
    }
    if (from_zero && !log) lo = std::min(lo, 0.0);
    if (hi == lo) {
        hi = lo + (lo == 0 ? 1 : std::fabs(lo) * 0.1);
        lo = lo - (lo == 0 ? 0 : std::fabs(lo) * 0.1);
    }
    if (log) {
        a.low = std::pow(10.0, std::floor(std::log10(lo) * 10) / 10 - 0.05);
        a.high = std::pow(10.0, std::ceil(std::log10(hi) * 10) / 10 + 0.05);
    } else {
        const double pad = 0.06 * (hi - lo);
        a.low = from_zero && lo >= 0 ? lo : lo - pad;
        a.high = hi + pad;
    }
    return a;
}

}  // namespace

std::string svg_color(int index) {
    static const char* colors[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                   "#e69f00", "#56b4e9", "#787878", "#7570b3"};
    return colors[((index % 8) + 8) % 8];
}

std::string xml_escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

namespace {

struct PointLabel {
    LabelBox box;
    std::string text, color;
};

// The width of a text at the plots' 11 px sans-serif: about 0.6 em a character (UTF-8
// continuation bytes not counted).
double text_width(const std::string& text) {
    double n = 0;
    for (unsigned char c : text) n += (c & 0xC0) != 0x80;
    return 0.6 * 11 * n;
}

// Each label right of its point, none over another or over a marker; a thin leader back to a
// point whose label had to move.
void draw_labels(std::ostringstream& s, const std::vector<PointLabel>& labels) {
    const double gap = 7, line = 13;
    std::vector<LabelBox> boxes;
    for (const PointLabel& l : labels) boxes.push_back(l.box);
    const std::vector<double> at = place_labels(boxes, gap, line, marker_obstacles(boxes, 9));
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const LabelBox& b = labels[i].box;
        if (b.y - at[i] > line / 2)
            s << "<line x1=\"" << num(b.x) << "\" y1=\"" << num(b.y - 4) << "\" x2=\"" << num(b.x)
              << "\" y2=\"" << num(at[i]) << "\" stroke=\"" << labels[i].color
              << "\" stroke-opacity=\"0.5\" stroke-width=\"0.8\"/>";
        s << "<text x=\"" << num(b.x + gap) << "\" y=\"" << num(at[i] + 4) << "\" fill=\""
          << labels[i].color << "\">" << xml_escape(labels[i].text) << "</text>";
    }
}

}  // namespace

std::string SvgPlot::render() const {
    const double left = 78, right = 18, top = 34, bottom = 52;
    // The legend sits under the plot, as many rows as it needs.
    std::vector<const SvgSeries*> named;
    for (const SvgSeries& s : series)
        if (!s.name.empty()) named.push_back(&s);
    const int columns = std::max(1, static_cast<int>((width - left) / 240));
    const int legend_rows = static_cast<int>((named.size() + columns - 1) / columns);
    const double total_height = height + legend_rows * 18.0;
    const double pw = width - left - right, ph = height - top - bottom;
    std::vector<const std::vector<double>*> xs, ys;
    bool bars = false;
    for (const SvgSeries& s : series) {
        xs.push_back(&s.x);
        ys.push_back(&s.y);
        if (!s.band_low.empty()) ys.push_back(&s.band_low), ys.push_back(&s.band_high);
        if (!s.error_low.empty()) ys.push_back(&s.error_low), ys.push_back(&s.error_high);
        bars = bars || s.kind == SvgSeries::Kind::bars;
    }
    const Axis ax = axis_of(xs, log_x, false), ay = axis_of(ys, log_y, bars);
    const auto px = [&](double x) {
        return left + (ax.transform(x) - ax.transform(ax.low)) /
                          (ax.transform(ax.high) - ax.transform(ax.low)) * pw;
    };
    const auto py = [&](double y) {
        return top + ph - (ay.transform(y) - ay.transform(ay.low)) /
                              (ay.transform(ay.high) - ay.transform(ay.low)) * ph;
    };
    std::ostringstream s;
    s << "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" << xml_escape(id) << "\" width=\""
      << width << "\" height=\"" << num(total_height) << "\" viewBox=\"0 0 " << width << " "
      << num(total_height) << "\" font-family=\"sans-serif\" font-size=\"11\">";
    s << "<rect x=\"0\" y=\"0\" width=\"" << width << "\" height=\"" << num(total_height)
      << "\" fill=\"white\"/>";
    s << "<text x=\"" << num(width / 2.0) << "\" y=\"18\" text-anchor=\"middle\" font-weight=\"bold\" "
         "font-size=\"13\">"
      << xml_escape(title) << "</text>";
    // Grid and ticks.
    for (double t : x_ticks.empty() ? ax.ticks() : x_ticks) {
        const double x = px(t);
        s << "<line x1=\"" << num(x) << "\" y1=\"" << num(top) << "\" x2=\"" << num(x) << "\" y2=\""
          << num(top + ph) << "\" stroke=\"#e4e4e4\"/>";
        s << "<text x=\"" << num(x) << "\" y=\"" << num(top + ph + 15) << "\" text-anchor=\"middle\">"
          << xml_escape(tick_text(t)) << "</text>";
    }
    for (double t : ay.ticks()) {
        const double y = py(t);
        s << "<line x1=\"" << num(left) << "\" y1=\"" << num(y) << "\" x2=\"" << num(left + pw)
          << "\" y2=\"" << num(y) << "\" stroke=\"#e4e4e4\"/>";
        s << "<text x=\"" << num(left - 6) << "\" y=\"" << num(y + 4) << "\" text-anchor=\"end\">"
          << xml_escape(tick_text(t)) << "</text>";
    }
    s << "<rect x=\"" << num(left) << "\" y=\"" << num(top) << "\" width=\"" << num(pw)
      << "\" height=\"" << num(ph) << "\" fill=\"none\" stroke=\"#555\"/>";
    s << "<text x=\"" << num(left + pw / 2) << "\" y=\"" << num(top + ph + 36)
      << "\" text-anchor=\"middle\">" << xml_escape(x_label) << "</text>";
    s << "<text transform=\"translate(16," << num(top + ph / 2) << ") rotate(-90)\" text-anchor=\"middle\">"
      << xml_escape(y_label) << "</text>";
    std::vector<PointLabel> labels;  // drawn last, apart (label_layout.h)
    // Bands first, then bars, lines and points on top.
    for (const SvgSeries& r : series) {
        if (r.band_low.empty() || r.x.empty()) continue;
        s << "<polygon fill=\"" << r.color << "\" fill-opacity=\"0.2\" stroke=\"none\" points=\"";
        for (std::size_t i = 0; i < r.x.size(); ++i) s << num(px(r.x[i])) << "," << num(py(r.band_high[i])) << " ";
        for (std::size_t i = r.x.size(); i-- > 0;) s << num(px(r.x[i])) << "," << num(py(r.band_low[i])) << " ";
        s << "\"/>";
    }
    for (const SvgSeries& r : series) {
        if (r.kind == SvgSeries::Kind::bars) {
            for (std::size_t i = 0; i < r.x.size(); ++i) {
                const double x0 = px(r.x[i] - r.bar_width / 2), x1 = px(r.x[i] + r.bar_width / 2);
                const double y0 = py(std::max(ay.low, 0.0)), y1 = py(r.y[i]);
                s << "<rect x=\"" << num(x0) << "\" y=\"" << num(std::min(y0, y1)) << "\" width=\""
                  << num(std::max(0.5, x1 - x0)) << "\" height=\"" << num(std::fabs(y0 - y1))
                  << "\" fill=\"" << r.color << "\"/>";
            }
        } else if (r.kind == SvgSeries::Kind::line && r.x.size() > 1) {
            s << "<polyline fill=\"none\" stroke=\"" << r.color << "\" stroke-width=\"1.6\""
              << (r.dashed ? " stroke-dasharray=\"6,3\"" : "") << " points=\"";
            for (std::size_t i = 0; i < r.x.size(); ++i)
                if (std::isfinite(r.y[i]) && (!log_y || r.y[i] > 0)) s << num(px(r.x[i])) << "," << num(py(r.y[i])) << " ";
            s << "\"/>";
        }
        if (r.kind == SvgSeries::Kind::points || (r.kind == SvgSeries::Kind::line && r.markers)) {
            for (std::size_t i = 0; i < r.x.size(); ++i) {
                if (!std::isfinite(r.y[i])) continue;
                const double x = px(r.x[i]), y = py(r.y[i]);
                if (!r.error_low.empty())
                    s << "<line x1=\"" << num(x) << "\" y1=\"" << num(py(r.error_low[i])) << "\" x2=\""
                      << num(x) << "\" y2=\"" << num(py(r.error_high[i])) << "\" stroke=\"" << r.color
                      << "\" stroke-width=\"1.3\"/>";
                s << "<circle cx=\"" << num(x) << "\" cy=\"" << num(y) << "\" r=\"4\" fill=\""
                  << (r.filled ? r.color : std::string("white")) << "\" stroke=\"" << r.color
                  << "\" stroke-width=\"1.5\"/>";
                if (i < r.labels.size() && !r.labels[i].empty())
                    labels.push_back({{x, y, text_width(r.labels[i])}, r.labels[i], r.color});
            }
        }
    }
    draw_labels(s, labels);
    // Legend.
    for (std::size_t i = 0; i < named.size(); ++i) {
        const double x = left + static_cast<double>(i % columns) * 240;
        const double y = height + 4 + static_cast<double>(i / columns) * 18;
        s << "<line x1=\"" << num(x) << "\" y1=\"" << num(y) << "\" x2=\"" << num(x + 22)
          << "\" y2=\"" << num(y) << "\" stroke=\"" << named[i]->color << "\" stroke-width=\"3\""
          << (named[i]->dashed ? " stroke-dasharray=\"6,3\"" : "") << "/>";
        s << "<text x=\"" << num(x + 28) << "\" y=\"" << num(y + 4) << "\">"
          << xml_escape(named[i]->name) << "</text>";
    }
    s << "</svg>";
    return s.str();
}

}  // namespace cp::report
