// The store's one way to run SQL: a prepared statement, finalised on scope exit, every value
// bound and never spliced. Internal to core/store.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "common/error.h"

namespace cp::store::detail {

// One prepared statement, finalised on scope exit; every value is bound, never spliced.
class Statement {
  public:
    Statement(sqlite3* db, const char* sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
            throw Error(std::string("database error: ") + sqlite3_errmsg(db));
    }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
    Statement& bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
    Statement& bind_null(int i) { return check(sqlite3_bind_null(stmt_, i)); }
    bool null(int col) { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
    Statement& bind(int i, const std::string& v) {
        return check(
            sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    bool step() {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        throw Error(std::string("database error: ") + sqlite3_errmsg(db_) +
                    (rc == SQLITE_FULL       ? " (the disk is full)"
                     : rc == SQLITE_READONLY ? " (the database is read-only)"
                                             : ""));
    }
    void reset() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    std::int64_t integer(int col) { return sqlite3_column_int64(stmt_, col); }
    double real(int col) { return sqlite3_column_double(stmt_, col); }
    std::string text(int col) {
        const unsigned char* t = sqlite3_column_text(stmt_, col);
        return t ? reinterpret_cast<const char*>(t) : "";
    }

  private:
    Statement& check(int rc) {
        if (rc != SQLITE_OK) throw Error(std::string("database error: ") + sqlite3_errmsg(db_));
        return *this;
    }
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace cp::store::detail
