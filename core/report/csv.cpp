#include "report/csv.h"

#include <unistd.h>

#include <array>
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

struct CsvFile::Impl {
    std::filesystem::path path, temporary;
    std::ofstream out;
    bool committed = false;
};

CsvFile::CsvFile(const std::string& path) : impl_(new Impl) {
    namespace fs = std::filesystem;
    impl_->path = path;
    std::error_code ec;
    if (path.empty()) {
        delete impl_;
        throw Error("no CSV file given (pass --csv FILE)");
    }
    if (fs::is_directory(impl_->path, ec)) {
        delete impl_;
        throw Error("cannot write the CSV file '" + path + "': it is a folder (give a file name)");
    }
    impl_->temporary = impl_->path;
    impl_->temporary += ".tmp-" + std::to_string(::getpid());
    impl_->out.open(impl_->temporary, std::ios::binary | std::ios::trunc);
    if (!impl_->out) {
        const std::string reason = std::strerror(errno);
        delete impl_;
        throw Error("cannot write the CSV file '" + path + "': " + reason +
                    " (choose a writable folder)");
    }
    impl_->out.imbue(std::locale::classic());
}

CsvFile::~CsvFile() {
    if (!impl_->committed) {
        impl_->out.close();
        std::error_code ec;
        std::filesystem::remove(impl_->temporary, ec);
    }
    delete impl_;
}

std::ostream& CsvFile::stream() {
    return impl_->out;
}

void CsvFile::commit() {
    impl_->out.flush();
    const bool written = static_cast<bool>(impl_->out);
    impl_->out.close();
    if (!written || impl_->out.fail())
        throw Error("cannot write the CSV file '" + impl_->path.string() +
                    "': the write failed (is the disk full?)");
    std::error_code ec;
    std::filesystem::rename(impl_->temporary, impl_->path, ec);
    if (ec)
        throw Error("cannot write the CSV file '" + impl_->path.string() + "': " + ec.message());
    impl_->committed = true;
}

}  // namespace cp::report
