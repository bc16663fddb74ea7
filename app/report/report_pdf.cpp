#include "report/report_pdf.h"

#include <QAbstractTextDocumentLayout>
#include <QFileInfo>
#include <QPainter>
#include <QPdfWriter>
#include <QSvgRenderer>
#include <QTextDocument>

namespace cp::reportpdf {
namespace {

QString escape(const std::string& s) {
    return QString::fromStdString(s).toHtmlEscaped();
}

// Lays blocks down the page, starting a new page when the next does not fit.
class PageWriter {
  public:
    PageWriter(QPdfWriter& writer, QPainter& painter) : writer_(writer), painter_(painter) {
        const QRect page = painter_.viewport();
        width_ = page.width();
        height_ = page.height();
    }
    // Draws rich text (a subset of HTML); `keep` = do not split it across pages.
    void text(const QString& html, double font_points = 9) {
        QTextDocument doc;
        QFont font("DejaVu Sans");
        font.setPointSizeF(font_points);
        doc.setDefaultFont(font);
        doc.setDocumentMargin(0);
        doc.setHtml(html);
        // Lay it out at the page width in device pixels of the PDF's resolution.
        doc.setTextWidth(width_);
        doc.documentLayout()->setPaintDevice(&writer_);
        doc.setTextWidth(width_);
        const double h = doc.size().height();
        if (y_ + h > height_ && y_ > 0) new_page();
        painter_.save();
        painter_.translate(0, y_);
        doc.drawContents(&painter_, QRectF(0, 0, width_, h));
        painter_.restore();
        y_ += h + gap();
    }
    void svg(const std::string& svg) {
        QSvgRenderer renderer(QByteArray::fromStdString(svg));
        if (!renderer.isValid()) return;
        const QSizeF size = renderer.defaultSize();
        const double w = width_ * 0.9, h = w * size.height() / std::max(1.0, size.width());
        if (y_ + h > height_ && y_ > 0) new_page();
        renderer.render(&painter_, QRectF((width_ - w) / 2, y_, w, h));
        y_ += h + gap();
    }
    // A heading keeps with what follows: it starts a page when little of this one is left.
    void keep_room(double share) {
        if (y_ > 0 && y_ + share * height_ > height_) new_page();
    }
    void new_page() {
        writer_.newPage();
        y_ = 0;
    }

  private:
    double gap() const { return height_ * 0.012; }
    QPdfWriter& writer_;
    QPainter& painter_;
    double width_ = 0, height_ = 0, y_ = 0;
};

// Rows [first, last) of the table's columns {0} and [column, column + count): the first column
// (the measure) repeats in every part, so a wide table reads part by part.
QString table_html(const report::ReportBlock& b, std::size_t first, std::size_t last,
                   std::size_t column, std::size_t count) {
    QString html = "<table border='1' cellspacing='0' cellpadding='2' width='100%'>";
    const auto row = [&](std::size_t r, bool header) {
        html += "<tr>";
        const auto& cells = b.cells[r];
        for (std::size_t k = 0; k < cells.size(); ++k) {
            if (k != 0 && (k < column || k >= column + count)) continue;
            html += (header ? "<th bgcolor='#eeeeee'>" : "<td>") + escape(cells[k]) +
                    (header ? "</th>" : "</td>");
        }
        html += "</tr>";
    };
    row(0, true);  // the header on every page's part
    for (std::size_t r = first; r < last; ++r) row(r, false);
    return html + "</table>";
}

}  // namespace

QString write_report_pdf(const report::ExperimentReport& report, const QString& path) {
    QPdfWriter writer(path);
    writer.setPageSize(QPageSize(QPageSize::A4));
    writer.setPageOrientation(QPageLayout::Landscape);
    writer.setPageMargins(QMarginsF(12, 12, 12, 12), QPageLayout::Millimeter);
    writer.setResolution(300);
    writer.setTitle(QString::fromStdString(report.title));
    writer.setCreator("Context-Pythia Workbench");
    QPainter painter;
    if (!painter.begin(&writer))
        return "cannot write '" + path + "' (is the folder writable?)";
    PageWriter page(writer, painter);
    for (const report::ReportBlock& b : report.blocks) {
        switch (b.kind) {
            case report::ReportBlock::Kind::heading:
                page.keep_room(0.3);
                page.text(QString("<b>%1</b>").arg(escape(b.text)), b.level == 1 ? 16 : 12);
                break;
            case report::ReportBlock::Kind::paragraph:
                page.text(escape(b.text));
                break;
            case report::ReportBlock::Kind::banner:
                page.text(QString("<div style='color:#8a3b00'><pre>%1</pre></div>").arg(escape(b.text)), 8);
                break;
            case report::ReportBlock::Kind::code:
                page.text(QString("<pre>%1</pre>").arg(escape(b.text)), 7);
                break;
            case report::ReportBlock::Kind::table: {
                page.text(QString("<i>%1</i>").arg(escape(b.text)), 8);
                // Wide tables go in parts of 6 columns beside the first, long ones in parts of
                // 24 rows, each with its header.
                const std::size_t columns = b.cells.empty() ? 0 : b.cells[0].size();
                for (std::size_t column = 1; column < std::max<std::size_t>(2, columns); column += 6)
                    for (std::size_t first = 1; first < b.cells.size(); first += 24)
                        page.text(table_html(b, first, std::min(b.cells.size(), first + 24), column, 6), 6);
                break;
            }
            case report::ReportBlock::Kind::plot:
                page.svg(b.svg);
                page.text(QString("<i>%1</i>").arg(escape(b.text)), 8);
                break;
        }
    }
    painter.end();
    return QFileInfo(path).size() > 0 ? QString() : "nothing was written to '" + path + "'";
}

}  // namespace cp::reportpdf
