#include "report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

#include "common/numbers.h"
#include "report/label_layout.h"

namespace cp::report {
namespace {

std::string num(double v) { return fixed_text(v, 2); }

// A tick label: plain for round numbers, scientific for very large or small ones.
std::string tick_text(double v) {
    const double a = std::fabs(v);
    return v != 0 && (a >= 1e6 || a < 1e-3) ? scientific_text(v, 2) : significant_text(v, 6);
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

// Where the plot area lies in the picture and how data map into it.
struct Frame {
    double left = 78, right = 18, top = 34, bottom = 52;
    double pw = 0, ph = 0;
    Axis ax, ay;
    double px(double x) const {
        return left + (ax.transform(x) - ax.transform(ax.low)) /
                          (ax.transform(ax.high) - ax.transform(ax.low)) * pw;
    }
    double py(double y) const {
        return top + ph - (ay.transform(y) - ay.transform(ay.low)) /
                              (ay.transform(ay.high) - ay.transform(ay.low)) * ph;
    }
};

Frame frame_of(const SvgPlot& plot) {
    Frame f;
    f.pw = plot.width - f.left - f.right;
    f.ph = plot.height - f.top - f.bottom;
    std::vector<const std::vector<double>*> xs, ys;
    bool bars = false;
    for (const SvgSeries& s : plot.series) {
        xs.push_back(&s.x);
        ys.push_back(&s.y);
        if (!s.band_low.empty()) ys.push_back(&s.band_low), ys.push_back(&s.band_high);
        if (!s.error_low.empty()) ys.push_back(&s.error_low), ys.push_back(&s.error_high);
        bars = bars || s.kind == SvgSeries::Kind::bars;
    }
    f.ax = axis_of(xs, plot.log_x, false);
    f.ay = axis_of(ys, plot.log_y, bars);
    return f;
}

// The grid, the ticks and their numbers, the frame and the axis labels.
void draw_axes(std::ostringstream& s, const SvgPlot& plot, const Frame& f) {
    for (double t : plot.x_ticks.empty() ? f.ax.ticks() : plot.x_ticks) {
        const double x = f.px(t);
        s << "<line x1=\"" << num(x) << "\" y1=\"" << num(f.top) << "\" x2=\"" << num(x)
          << "\" y2=\"" << num(f.top + f.ph) << "\" stroke=\"#e4e4e4\"/>";
        s << "<text x=\"" << num(x) << "\" y=\"" << num(f.top + f.ph + 15)
          << "\" text-anchor=\"middle\">" << xml_escape(tick_text(t)) << "</text>";
    }
    for (double t : f.ay.ticks()) {
        const double y = f.py(t);
        s << "<line x1=\"" << num(f.left) << "\" y1=\"" << num(y) << "\" x2=\""
          << num(f.left + f.pw) << "\" y2=\"" << num(y) << "\" stroke=\"#e4e4e4\"/>";
        s << "<text x=\"" << num(f.left - 6) << "\" y=\"" << num(y + 4)
          << "\" text-anchor=\"end\">" << xml_escape(tick_text(t)) << "</text>";
    }
    s << "<rect x=\"" << num(f.left) << "\" y=\"" << num(f.top) << "\" width=\"" << num(f.pw)
      << "\" height=\"" << num(f.ph) << "\" fill=\"none\" stroke=\"#555\"/>";
    s << "<text x=\"" << num(f.left + f.pw / 2) << "\" y=\"" << num(f.top + f.ph + 36)
      << "\" text-anchor=\"middle\">" << xml_escape(plot.x_label) << "</text>";
    s << "<text transform=\"translate(16," << num(f.top + f.ph / 2)
      << ") rotate(-90)\" text-anchor=\"middle\">" << xml_escape(plot.y_label) << "</text>";
}

void draw_band(std::ostringstream& s, const SvgSeries& r, const Frame& f) {
    if (r.band_low.empty() || r.x.empty()) return;
    s << "<polygon fill=\"" << r.color << "\" fill-opacity=\"0.2\" stroke=\"none\" points=\"";
    for (std::size_t i = 0; i < r.x.size(); ++i)
        s << num(f.px(r.x[i])) << "," << num(f.py(r.band_high[i])) << " ";
    for (std::size_t i = r.x.size(); i-- > 0;)
        s << num(f.px(r.x[i])) << "," << num(f.py(r.band_low[i])) << " ";
    s << "\"/>";
}

void draw_bars_or_line(std::ostringstream& s, const SvgSeries& r, const Frame& f, bool log_y) {
    if (r.kind == SvgSeries::Kind::bars) {
        for (std::size_t i = 0; i < r.x.size(); ++i) {
            const double x0 = f.px(r.x[i] - r.bar_width / 2), x1 = f.px(r.x[i] + r.bar_width / 2);
            const double y0 = f.py(std::max(f.ay.low, 0.0)), y1 = f.py(r.y[i]);
            s << "<rect x=\"" << num(x0) << "\" y=\"" << num(std::min(y0, y1)) << "\" width=\""
              << num(std::max(0.5, x1 - x0)) << "\" height=\"" << num(std::fabs(y0 - y1))
              << "\" fill=\"" << r.color << "\"/>";
        }
    } else if (r.kind == SvgSeries::Kind::line && r.x.size() > 1) {
        s << "<polyline fill=\"none\" stroke=\"" << r.color << "\" stroke-width=\"1.6\""
          << (r.dashed ? " stroke-dasharray=\"6,3\"" : "") << " points=\"";
        for (std::size_t i = 0; i < r.x.size(); ++i)
            if (std::isfinite(r.y[i]) && (!log_y || r.y[i] > 0))
                s << num(f.px(r.x[i])) << "," << num(f.py(r.y[i])) << " ";
        s << "\"/>";
    }
}

// Markers with their error bars; their labels are collected to be placed apart, last.
void draw_markers(std::ostringstream& s, const SvgSeries& r, const Frame& f,
                  std::vector<PointLabel>& labels) {
    if (r.kind != SvgSeries::Kind::points && !(r.kind == SvgSeries::Kind::line && r.markers))
        return;
    for (std::size_t i = 0; i < r.x.size(); ++i) {
        if (!std::isfinite(r.y[i])) continue;
        const double x = f.px(r.x[i]), y = f.py(r.y[i]);
        if (!r.error_low.empty())
            s << "<line x1=\"" << num(x) << "\" y1=\"" << num(f.py(r.error_low[i])) << "\" x2=\""
              << num(x) << "\" y2=\"" << num(f.py(r.error_high[i])) << "\" stroke=\"" << r.color
              << "\" stroke-width=\"1.3\"/>";
        s << "<circle cx=\"" << num(x) << "\" cy=\"" << num(y) << "\" r=\"4\" fill=\""
          << (r.filled ? r.color : std::string("white")) << "\" stroke=\"" << r.color
          << "\" stroke-width=\"1.5\"/>";
        if (i < r.labels.size() && !r.labels[i].empty())
            labels.push_back({{x, y, text_width(r.labels[i])}, r.labels[i], r.color});
    }
}

// The legend under the plot, `columns` entries a row.
void draw_legend(std::ostringstream& s, const std::vector<const SvgSeries*>& named, int columns,
                 double left, double height) {
    for (std::size_t i = 0; i < named.size(); ++i) {
        const double x = left + static_cast<double>(i % columns) * 240;
        const double y = height + 4 + static_cast<double>(i / columns) * 18;
        s << "<line x1=\"" << num(x) << "\" y1=\"" << num(y) << "\" x2=\"" << num(x + 22)
          << "\" y2=\"" << num(y) << "\" stroke=\"" << named[i]->color << "\" stroke-width=\"3\""
          << (named[i]->dashed ? " stroke-dasharray=\"6,3\"" : "") << "/>";
        s << "<text x=\"" << num(x + 28) << "\" y=\"" << num(y + 4) << "\">"
          << xml_escape(named[i]->name) << "</text>";
    }
}

}  // namespace

std::string SvgPlot::render() const {
    const Frame f = frame_of(*this);
    // The legend sits under the plot, as many rows as it needs.
    std::vector<const SvgSeries*> named;
    for (const SvgSeries& s : series)
        if (!s.name.empty()) named.push_back(&s);
    const int columns = std::max(1, static_cast<int>((width - f.left) / 240));
    const int legend_rows = static_cast<int>((named.size() + columns - 1) / columns);
    const double total_height = height + legend_rows * 18.0;
    std::ostringstream s;
    s << "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" << xml_escape(id) << "\" width=\""
      << width << "\" height=\"" << num(total_height) << "\" viewBox=\"0 0 " << width << " "
      << num(total_height) << "\" font-family=\"sans-serif\" font-size=\"11\">";
    s << "<rect x=\"0\" y=\"0\" width=\"" << width << "\" height=\"" << num(total_height)
      << "\" fill=\"white\"/>";
    s << "<text x=\"" << num(width / 2.0)
      << "\" y=\"18\" text-anchor=\"middle\" font-weight=\"bold\" font-size=\"13\">"
      << xml_escape(title) << "</text>";
    draw_axes(s, *this, f);
    // Bands first, then bars, lines and points on top; the labels last, apart (label_layout.h).
    for (const SvgSeries& r : series) draw_band(s, r, f);
    std::vector<PointLabel> labels;
    for (const SvgSeries& r : series) {
        draw_bars_or_line(s, r, f, log_y);
        draw_markers(s, r, f, labels);
    }
    draw_labels(s, labels);
    draw_legend(s, named, columns, f.left, height);
    s << "</svg>";
    return s.str();
}

}  // namespace cp::report
