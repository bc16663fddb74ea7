#include "cli/db_option.h"

#include <unistd.h>

#include "common/error.h"
#include "experiment/experiment_params.h"

namespace cp::cli {

Option db_option() {
    return {"db", "FILE", "database (default: " + train::default_database_path() + ")"};
}

std::string db_path(const Args& args) {
    return args.has("db") ? args.get("db") : train::default_database_path();
}

std::string existing_db_path(const Args& args) {
    const std::string path = db_path(args);
    if (::access(path.c_str(), F_OK) != 0)
        throw Error("no database at '" + path + "' (run an experiment first, or pass --db FILE)");
    return path;
}

}  // namespace cp::cli
