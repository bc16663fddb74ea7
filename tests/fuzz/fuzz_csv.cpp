// CSV writing: any text cells (the input split into rows at 0x01 and cells at NUL) read back by
// an RFC 4180 reader as exactly the cells written, except that a cell a spreadsheet would run
// as a formula reads back with a leading apostrophe.
#include <sstream>
#include <vector>

#include "fuzz_support.h"
#include "report/csv.h"

namespace {

using Table = std::vector<std::vector<std::string>>;

// RFC 4180: CRLF ends a record; quoted fields may hold commas, quotes (doubled) and line ends.
Table read_csv(const std::string& s) {
    Table rows(1, std::vector<std::string>(1));
    std::size_t i = 0;
    bool quoted = false, field_started = false;
    while (i < s.size()) {
        const char c = s[i];
        if (quoted) {
            if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
                rows.back().back() += '"';
                i += 2;
                continue;
            }
            if (c == '"') quoted = false;
            else rows.back().back() += c;
            ++i;
            continue;
        }
        if (c == '"' && !field_started) {
            quoted = field_started = true;
        } else if (c == ',') {
            rows.back().emplace_back();
            field_started = false;
        } else if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
            rows.emplace_back(1);
            field_started = false;
            ++i;
        } else {
            if (c == '"') cp::fuzz::finding("a bare quote inside an unquoted field");
            rows.back().back() += c;
            field_started = true;
        }
        ++i;
    }
    if (quoted) cp::fuzz::finding("an unterminated quoted field");
    rows.pop_back();  // after the last CRLF
    return rows;
}

bool formula_like(const std::string& cell) {
    return !cell.empty() && std::string("=+-@\t\r").find(cell[0]) != std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Table expected(1);
    std::string cell;
    for (std::size_t i = 0; i <= size; ++i) {
        if (i == size || data[i] == 0 || data[i] == 1) {
            expected.back().push_back(cell);
            cell.clear();
            if (i < size && data[i] == 1) expected.emplace_back();
        } else {
            cell += static_cast<char>(data[i]);
        }
    }
    std::ostringstream out;
    cp::report::CsvWriter writer(out);
    for (const auto& row : expected) {
        for (const auto& c : row) writer.text(c);
        writer.end_row();
    }
    Table got = read_csv(out.str());
    for (auto& row : expected)
        for (auto& c : row)
            if (formula_like(c)) c = "'" + c;
    if (got != expected) cp::fuzz::finding("CSV cells did not read back as written");
    return 0;
}
