#include "experiment/sweep.h"

#include <algorithm>
#include <cstdlib>
#include <iomanip>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "common/text.h"
#include "data/data_paths.h"
#include "data/hash.h"
#include "experiment/param_schema.h"

namespace cp::train {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool list_valued(const ParamSpec& spec) {
    return spec.type == ParamType::text_list || spec.type == ParamType::design_list ||
           spec.type == ParamType::integer_list;
}

// The parameters a cell's experiment reads the sweep's bookkeeping from.
void apply(ExperimentParams& p, const ParamSpec& spec, const std::string& value) {
    spec.set(p, spec.parse_text(value));
}

}  // namespace

std::string sweep_cell_tag(const std::string& uid, std::int64_t index) {
    return uid + ":" + std::to_string(index);
}

std::optional<std::pair<std::string, std::int64_t>> parse_sweep_cell_tag(const std::string& tag) {
    const auto colon = tag.find(':');
    if (colon == std::string::npos) return std::nullopt;
    try {
        return std::make_pair(tag.substr(0, colon), static_cast<std::int64_t>(std::stoll(tag.substr(colon + 1))));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

GridAxis parse_grid_axis(const std::string& text) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
        throw Error("--grid '" + text + "' is not KEY=V1,V2,... (e.g. --grid context_dim=64,128)");
    const std::string key = text.substr(0, eq);
    const ParamSpec* spec = nullptr;
    for (const ParamSpec& s : param_schema())
        if (s.key == key || s.cli == key) spec = &s;
    if (!spec)
        throw Error("--grid: no experiment parameter '" + key + "' (see 'context-pythia run --help')");
    const bool designs = spec->key == "models";
    if (spec->bookkeeping && !designs && spec->key != "seeds")
        throw Error("--grid: '" + key + "' says where or how a run is kept, not what it trains: "
                    "give it once as an option instead");
    GridAxis axis;
    axis.key = spec->key;
    axis.values = split_skipping_empty(text.substr(eq + 1), list_valued(*spec) ? ';' : ',');
    if (axis.values.empty()) throw Error("--grid '" + text + "': no values after '='");
    std::set<std::string> seen;
    for (const std::string& v : axis.values) {
        if (!seen.insert(v).second) throw Error("--grid '" + text + "': '" + v + "' twice");
        ExperimentParams probe;
        try {
            apply(probe, *spec, v);
        } catch (const Error& e) {
            throw Error("--grid '" + key + "': value '" + v + "': " + e.what());
        }
    }
    return axis;
}

std::string SweepCell::label() const {
    std::string s;
    for (const auto& [k, v] : values) s += (s.empty() ? "" : " ") + k + "=" + v;
    return s;
}

std::string Sweep::cell_command(const SweepCell& cell) const {
    return reproducing_command(cell.params);
}

json Sweep::to_json() const {
    json grid_json = json::array();
    for (const GridAxis& a : grid) grid_json.push_back({{"key", a.key}, {"values", a.values}});
    json cells_json = json::array();
    for (const SweepCell& c : cells) {
        json values = json::object();
        for (const auto& [k, v] : c.values) values[k] = v;
        cells_json.push_back({{"index", c.index},
                              {"label", c.label()},
                              {"values", values},
                              {"command", cell_command(c)}});
    }
    return {{"uid", uid}, {"name", name}, {"base", base.to_json()}, {"grid", grid_json},
            {"cells", cells_json}};
}

Sweep Sweep::from_json(const json& j) {
    try {
        std::vector<GridAxis> grid;
        for (const json& a : j.at("grid"))
            grid.push_back({a.at("key").get<std::string>(), a.at("values").get<std::vector<std::string>>()});
        Sweep s = make_sweep(ExperimentParams::from_json(j.at("base")), grid,
                             j.value("name", std::string()));
        if (s.uid != j.at("uid").get<std::string>())
            throw Error("the manifest's uid " + j.at("uid").get<std::string>() +
                        " is not its grid's (" + s.uid + "): was it edited by hand?");
        return s;
    } catch (const json::exception& e) {
        throw Error(std::string("the sweep manifest is malformed: ") + e.what());
    }
}

Sweep make_sweep(const ExperimentParams& base, const std::vector<GridAxis>& grid,
                 const std::string& name) {
    if (grid.empty()) throw Error("a sweep needs at least one --grid KEY=V1,V2,...");
    std::set<std::string> keys;
    for (const GridAxis& a : grid)
        if (!keys.insert(a.key).second) throw Error("--grid: '" + a.key + "' is given twice");
    Sweep s;
    s.base = base;
    s.base.sweep_cell.clear();
    s.grid = grid;
    // What it trains names it: the base's parameters (bookkeeping aside) and the grid.
    json identity = json::object();
    for (const ParamSpec& spec : param_schema())
        if (!spec.bookkeeping || spec.key == "models" || spec.key == "seeds")
            identity[spec.key] = spec.get(s.base);
    for (const GridAxis& a : grid) identity["grid"].push_back({a.key, a.values});
    std::ostringstream uid;
    uid << std::hex << std::setw(16) << std::setfill('0') << data::fnv1a(identity.dump());
    s.uid = uid.str();
    s.name = name.empty() ? "sweep " + s.uid.substr(0, 8) : name;
    // The product, first axis slowest.
    std::int64_t count = 1;
    for (const GridAxis& a : grid) count *= static_cast<std::int64_t>(a.values.size());
    if (count > 10000) throw Error("the grid has " + std::to_string(count) + " cells: more than 10,000");
    for (std::int64_t i = 0; i < count; ++i) {
        SweepCell cell;
        cell.index = i;
        cell.params = s.base;
        std::int64_t rest = i;
        std::vector<std::pair<std::string, std::string>> values(grid.size());
        for (std::size_t k = grid.size(); k-- > 0;) {
            const auto n = static_cast<std::int64_t>(grid[k].values.size());
            values[k] = {grid[k].key, grid[k].values[static_cast<std::size_t>(rest % n)]};
            rest /= n;
        }
        for (const auto& [key, value] : values) apply(cell.params, param(key), value);
        cell.values = values;
        cell.params.sweep_cell = sweep_cell_tag(s.uid, i);
        cell.params.name = (s.base.name.empty() ? s.name : s.base.name) + " [" + cell.label() + "]";
        const auto problems = cell.params.problems();
        if (!problems.empty()) {
            std::string m = "sweep cell " + std::to_string(i) + " (" + cell.label() + ") is not a valid experiment:";
            for (const auto& p : problems) m += "\n  - " + p.message;
            throw Error(m);
        }
        s.cells.push_back(std::move(cell));
    }
    return s;
}

std::vector<GridAxis> parse_grid_lines(const std::string& text) {
    std::vector<GridAxis> grid;
    std::istringstream lines(text);
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] == '#') continue;
        const auto last = line.find_last_not_of(" \t\r");
        try {
            grid.push_back(parse_grid_axis(line.substr(first, last - first + 1)));
        } catch (const Error& e) {
            throw Error("grid line " + std::to_string(number) + ": " + e.what());
        }
    }
    if (grid.empty())
        throw Error("the grid is empty: write one parameter and its values per line, e.g. "
                    "context_dim=32,64");
    return grid;
}

fs::path default_sweep_folder(const Sweep& sweep) {
    return data::data_dir() / "sweeps" / sweep.uid;
}

fs::path manifest_path(const fs::path& folder) {
    return folder / "sweep.json";
}

void write_manifest(const Sweep& sweep, const fs::path& folder) {
    std::error_code ec;
    fs::create_directories(folder / "shards", ec);
    fs::create_directories(folder / "logs", ec);
    if (ec) throw Error("cannot create the sweep folder '" + folder.string() + "': " + ec.message());
    write_file_atomic(manifest_path(folder), sweep.to_json().dump(2) + "\n");
}

Sweep read_manifest(const fs::path& folder) {
    const fs::path path = manifest_path(folder);
    if (!fs::exists(path))
        throw Error("no sweep manifest at '" + path.string() +
                    "' (the folder 'context-pythia sweep' printed)");
    json j;
    try {
        j = json::parse(read_file(path));
    } catch (const json::exception& e) {
        throw Error("'" + path.string() + "' is not valid JSON: " + e.what());
    }
    return Sweep::from_json(j);
}

fs::path shard_path(const fs::path& folder, std::int64_t cell) {
    return folder / "shards" / ("cell-" + std::to_string(cell) + ".db");
}

fs::path log_path(const fs::path& folder, std::int64_t cell) {
    return folder / "logs" / ("cell-" + std::to_string(cell) + ".log");
}

std::vector<CellState> cell_states(const Sweep& sweep, store::RunStore& store) {
    std::vector<CellState> states;
    for (const SweepCell& c : sweep.cells) states.push_back({c.index, {}, false, "no experiment yet"});
    std::vector<std::int64_t> done(states.size(), 0);  // per cell: its experiments that finished
    for (const store::ExperimentRow& e : store.experiments()) {
        const json params = json::parse(e.params_json, nullptr, false);
        if (!params.is_object() || !params.contains("sweep_cell") || !params["sweep_cell"].is_string())
            continue;
        const auto tag = parse_sweep_cell_tag(params["sweep_cell"].get<std::string>());
        if (!tag || tag->first != sweep.uid) continue;
        const std::int64_t cell = tag->second;
        if (cell < 0 || cell >= static_cast<std::int64_t>(states.size())) continue;
        CellState& s = states[static_cast<std::size_t>(cell)];
        s.experiments.push_back(e.id);
        std::string problem;
        const auto runs = store.runs(e.id);
        if (runs.empty()) problem = "experiment " + std::to_string(e.id) + " has no run";
        for (const store::RunRow& r : runs)
            if (!store::completed(r.status) && problem.empty())
                problem = "run " + std::to_string(r.id) + " (" + model::design_key(r.model) + ") " +
                          store::status_display_name(r.status) +
                          (r.error.empty() ? "" : ": " + r.error.substr(0, 120));
        if (problem.empty())
            ++done[static_cast<std::size_t>(cell)];
        else if (done[static_cast<std::size_t>(cell)] == 0)
            s.problem = problem;
    }
    // A cell is finished when one experiment (with --seeds N, N of them: a seed group) finished.
    const std::int64_t needed = std::max<std::int64_t>(1, sweep.base.seeds);
    for (CellState& s : states) {
        const std::int64_t d = done[static_cast<std::size_t>(s.cell)];
        s.finished = d >= needed;
        if (s.finished)
            s.problem.clear();
        else if (d > 0)
            s.problem = std::to_string(d) + " of " + std::to_string(needed) + " seeds finished";
    }
    return states;
}

std::vector<bool> finished_cells(const Sweep& sweep, const std::string& db) {
    std::vector<bool> finished(sweep.cells.size(), false);
    if (!fs::exists(db)) return finished;  // opening the store would create it
    store::RunStore store(db);
    for (const CellState& s : cell_states(sweep, store))
        finished[static_cast<std::size_t>(s.cell)] = s.finished;
    return finished;
}

std::string slurm_script(const Sweep& sweep, const fs::path& folder, const fs::path& cli,
                         const std::vector<std::string>& sbatch_flags) {
    const fs::path dir = fs::absolute(folder);
    std::ostringstream s;
    s << "#!/bin/bash\n"
      << "# The sweep " << sweep.uid << " ('" << sweep.name << "'): " << sweep.cells.size()
      << " cells, one Slurm array task each.\n"
      << "# Each task runs its cell into its own database shard and log; collect them with\n"
      << "#   " << cli.string() << " sweep collect --sweep-dir " << shell_quote(dir.string()) << "\n"
      << "#SBATCH --job-name=cp-sweep-" << sweep.uid.substr(0, 8) << "\n"
      << "#SBATCH --array=0-" << (sweep.cells.size() - 1) << "\n"
      << "#SBATCH --output=" << (dir / "logs" / "slurm-%A_%a.out").string() << "\n";
    for (const std::string& flag : sbatch_flags) s << "#SBATCH " << flag << "\n";
    s << "set -euo pipefail\n";
    if (const char* data = std::getenv("CP_DATA_DIR")) s << "export CP_DATA_DIR=" << shell_quote(data) << "\n";
    s << "exec " << shell_quote(fs::absolute(cli).string()) << " sweep run-cell --sweep-dir "
      << shell_quote(dir.string()) << " --cell \"$SLURM_ARRAY_TASK_ID\"\n";
    return s.str();
}

fs::path write_slurm_job(const Sweep& sweep, const fs::path& folder, const fs::path& cli,
                         const std::vector<std::string>& sbatch_flags) {
    write_manifest(sweep, folder);
    const fs::path path = folder / "sweep.sbatch";
    write_file_atomic(path, slurm_script(sweep, folder, cli, sbatch_flags));
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_exec, fs::perm_options::add, ec);
    return path;
}

}  // namespace cp::train
