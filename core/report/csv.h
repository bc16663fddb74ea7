// CSV as RFC 4180 writes it, for spreadsheets: a header row, CRLF line ends, UTF-8, fields
// quoted when they hold a quote, comma or line break, numbers at full precision with '.' as the
// decimal point whatever the process locale, and text that a spreadsheet would run as a formula
// (leading =, +, -, @, tab or carriage return) neutralised with a leading apostrophe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace cp::report {

// The shortest text that reads back as exactly `value` ("0.1", "1e-07", "12288"); locale-free.
// NaN and infinities come out as "nan", "inf", "-inf".
std::string format_number(double value);
// The same text appended to `out`, without a temporary string (the export's hot loop).
void append_number(std::string& out, double value);

// A text field as it goes into a cell: formula-neutralised, then quoted where RFC 4180 needs it.
std::string csv_text_field(std::string_view text);

class CsvWriter {
  public:
    explicit CsvWriter(std::ostream& out) : out_(out) {}
    CsvWriter& text(std::string_view value);
    CsvWriter& number(double value);
    CsvWriter& number(std::optional<double> value);  // empty cell when absent
    CsvWriter& integer(std::int64_t value);
    CsvWriter& empty();
    void end_row();

  private:
    void separator();
    std::ostream& out_;
    bool row_started_ = false;
};

// Writes a CSV file all-or-nothing: into a temporary file beside `path`, renamed over it by
// commit(). The constructor opens the file, so an unwritable path fails before any work, with
// a message naming it; a writer destroyed without commit() removes its temporary file.
class CsvFile {
  public:
    explicit CsvFile(const std::string& path);
    ~CsvFile();
    CsvFile(const CsvFile&) = delete;
    CsvFile& operator=(const CsvFile&) = delete;
    std::ostream& stream() { return out_; }
    void commit();

  private:
    std::filesystem::path path_, temporary_;
    std::ofstream out_;
    bool committed_ = false;
};

}  // namespace cp::report
