#include "report/csv.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/error.h"

namespace cp::report {

std::string format_number(double value) {
    if (std::isnan(value)) return "nan";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    // std::to_chars never consults the locale and gives the shortest round-trip form.
    std::array<char, 32> buffer{};
    const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    if (ec != std::errc()) return "nan";  // cannot happen with 32 bytes; keep the cell honest
    return std::string(buffer.data(), end);
}

void append_number(std::string& out, double value) {
    if (std::isnan(value) || std::isinf(value)) {
        out += format_number(value);
        return;
    }
    std::array<char, 32> buffer{};
    const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    out.append(buffer.data(), ec == std::errc() ? end : buffer.data());
}

std::string csv_text_field(std::string_view text) {
    std::string cell;
    cell.reserve(text.size() + 3);
    // A spreadsheet evaluates a cell that starts like a formula (OWASP "CSV injection").
    if (!text.empty() && std::strchr("=+-@\t\r", text.front()) != nullptr) cell += '\'';
    cell.append(text);
    if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
    std::string quoted = "\"";
    for (char c : cell) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    quoted += '"';
    return quoted;
}

void CsvWriter::separator() {
    if (row_started_) out_.put(',');
    row_started_ = true;
}

CsvWriter& CsvWriter::text(std::string_view value) {
    separator();
    out_ << csv_text_field(value);
    return *this;
}

CsvWriter& CsvWriter::number(double value) {
    separator();
    out_ << format_number(value);
    return *this;
}

CsvWriter& CsvWriter::number(std::optional<double> value) {
    if (!value) return empty();
    return number(*value);
}

CsvWriter& CsvWriter::integer(std::int64_t value) {
    separator();
    std::array<char, 24> buffer{};
    const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    (void)ec;
    out_.write(buffer.data(), end - buffer.data());
    return *this;
}

CsvWriter& CsvWriter::empty() {
    separator();
    return *this;
}

void CsvWriter::end_row() {
    out_ << "\r\n";
    row_started_ = false;
}

CsvFile::CsvFile(const std::string& path) : path_(path) {
    if (path.empty()) throw Error("no CSV file given (pass --csv FILE)");
    std::error_code ec;
    if (std::filesystem::is_directory(path_, ec))
        throw Error("cannot write the CSV file '" + path + "': it is a folder (give a file name)");
    temporary_ = path_;
    temporary_ += ".tmp-" + std::to_string(::getpid());
    out_.open(temporary_, std::ios::binary | std::ios::trunc);
    if (!out_)
        throw Error("cannot write the CSV file '" + path + "': " + std::strerror(errno) +
                    " (choose a writable folder)");
    out_.imbue(std::locale::classic());
}

CsvFile::~CsvFile() {
    if (committed_) return;
    out_.close();
    std::error_code ec;
    std::filesystem::remove(temporary_, ec);
}

void CsvFile::commit() {
    out_.flush();
    const bool written = static_cast<bool>(out_);
    out_.close();
    if (!written || out_.fail())
        throw Error("cannot write the CSV file '" + path_.string() +
                    "': the write failed (is the disk full?)");
    std::error_code ec;
    std::filesystem::rename(temporary_, path_, ec);
    if (ec) throw Error("cannot write the CSV file '" + path_.string() + "': " + ec.message());
    committed_ = true;
}

}  // namespace cp::report
