// Plots as SVG text, for reports that open in any browser and draw vector in a PDF: lines
// (solid or dashed, with markers), shaded bands, points with error bars and labels, bars; linear
// or logarithmic axes with round ticks, a title, axis labels and a legend. No Qt: the CLI writes
// reports without a display.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace cp::report {

struct SvgSeries {
    enum class Kind { line, points, bars };
    Kind kind = Kind::line;
    std::string name;  // the legend's entry; "" for none
    std::string color = "#0072b2";
    bool dashed = false, markers = false;
    std::vector<double> x, y;
    std::vector<double> band_low, band_high;  // a shaded band under a line (empty: none)
    std::vector<double> error_low, error_high;  // points: the y interval (empty: none)
    std::vector<std::string> labels;          // points: a label beside each (empty: none)
    bool filled = true;                       // points: filled or hollow markers
    double bar_width = 0;                     // bars: in x units
};

struct SvgPlot {
    std::string id;  // the <svg> element's id
    std::string title, x_label, y_label;
    bool log_x = false, log_y = false;
    std::vector<double> x_ticks;  // where to put the x ticks (empty: round numbers or decades)
    int width = 760, height = 420;
    std::vector<SvgSeries> series;
    std::string render() const;  // a standalone <svg> element (XML)
};

// Okabe-Ito colours by index, as the workbench's plots use them.
std::string svg_color(int index);
// Text with &, <, > and quotes escaped for XML.
std::string xml_escape(const std::string& text);

}  // namespace cp::report
