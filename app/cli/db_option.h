// The --db option every command that opens the run store shares: its help line and its path.
#pragma once

#include <string>

#include "cli/args.h"

namespace cp::cli {

// "--db FILE", with the workbench's database (or $CP_DB) named as the default.
Option db_option();
// --db, else the default database.
std::string db_path(const Args& args);
// The same, for a command that only reads: a missing file is refused rather than created (opening
// the store creates it, and a mistyped --db must not leave an empty database behind).
std::string existing_db_path(const Args& args);

}  // namespace cp::cli
