// A sweep: a grid of experiment parameters (designs × context widths × ..., each cell a whole
// experiment, with --seeds N a seed group), run one cell after another on this machine or as a
// Slurm job array, each task into a database shard of its own, merged afterwards with
// `db import`. The sweep is named by a hash of what it trains, so the same command finds its
// earlier cells: a re-run skips the finished ones and retries the failed. Torch-free: the CLI's
// light front end plans, submits and collects; each cell is `context-pythia run`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "store/run_store.h"
#include "experiment/experiment_params.h"

namespace cp::train {

// One axis: a parameter (its JSON key or its CLI name) and the values it takes, as typed.
struct GridAxis {
    std::string key;  // the schema's JSON key ("context_dim", "models", "phase2.learning_rate")
    std::vector<std::string> values;
};
// "context_dim=64,128,256"; a list-valued parameter's alternatives are separated by ';'
// ("models=pythia,context-pythia;pythia,pythia-256"). Throws cp::Error naming an unknown
// parameter, a bookkeeping one (db, threads, ...), or a value its type refuses.
GridAxis parse_grid_axis(const std::string& text);

// The tag every experiment of a cell carries in its parameters (sweep_cell): "UID:INDEX".
std::string sweep_cell_tag(const std::string& uid, std::int64_t index);
// The tag's sweep uid and cell index; nullopt for a value that is not such a tag.
std::optional<std::pair<std::string, std::int64_t>> parse_sweep_cell_tag(const std::string& tag);

struct SweepCell {
    std::int64_t index = 0;
    std::vector<std::pair<std::string, std::string>> values;  // the grid's value per axis
    ExperimentParams params;                                  // the base with those values
    std::string label() const;                                // "context_dim=64 models=pythia"
};

struct Sweep {
    std::string uid;   // 16 hex digits of the hash of what it trains
    std::string name;  // free text; default "sweep <uid>"
    ExperimentParams base;
    std::vector<GridAxis> grid;
    std::vector<SweepCell> cells;
    // The cells' run command ("context-pythia run ... --sweep-cell UID:I"), without --db.
    std::string cell_command(const SweepCell& cell) const;
    nlohmann::json to_json() const;
    static Sweep from_json(const nlohmann::json& j);  // throws cp::Error on a malformed manifest
};

// The cells of the grid (its product, first axis slowest), each checked like any experiment's
// parameters; throws cp::Error naming the cell and its problem before anything runs.
Sweep make_sweep(const ExperimentParams& base, const std::vector<GridAxis>& grid,
                 const std::string& name = "");

// The grid as a form gives it: one axis per line ("context_dim=32,64"), blank lines and lines
// starting with '#' ignored; throws cp::Error naming the line of a bad axis.
std::vector<GridAxis> parse_grid_lines(const std::string& text);

// Where a sweep keeps its manifest, shards and logs unless told: <data>/sweeps/<uid>.
std::filesystem::path default_sweep_folder(const Sweep& sweep);

// The manifest's place in a sweep folder, and reading it back.
std::filesystem::path manifest_path(const std::filesystem::path& folder);
void write_manifest(const Sweep& sweep, const std::filesystem::path& folder);
Sweep read_manifest(const std::filesystem::path& folder);
// Cell i's database shard (Slurm tasks) and log.
std::filesystem::path shard_path(const std::filesystem::path& folder, std::int64_t cell);
std::filesystem::path log_path(const std::filesystem::path& folder, std::int64_t cell);

// How each cell stands in a database: the experiments recorded for it ("uid:i" in their
// parameters) and whether one of them finished every run.
struct CellState {
    std::int64_t cell = 0;
    std::vector<std::int64_t> experiments;
    bool finished = false;
    std::string problem;  // why not: "no experiment", "run 7 failed: ..."
};
std::vector<CellState> cell_states(const Sweep& sweep, store::RunStore& store);
// Per cell, whether the database at `db` holds it finished (all false when there is no database
// yet): what a local sweep skips, read once before it runs.
std::vector<bool> finished_cells(const Sweep& sweep, const std::string& db);

// Slurm: the job-array script (one task per cell, `--array=0-(N-1)`), each task running its cell
// into its own shard with its own log; `sbatch_flags` are passed through as #SBATCH lines
// ("--partition=gpu", "--time=02:00:00", "--gres=gpu:1").
std::string slurm_script(const Sweep& sweep, const std::filesystem::path& folder,
                         const std::filesystem::path& cli, const std::vector<std::string>& sbatch_flags);
// The manifest and the job-array script (executable) in `folder`; returns the script's path.
// What `sweep --slurm` and the workbench's "Write Slurm job" both write.
std::filesystem::path write_slurm_job(const Sweep& sweep, const std::filesystem::path& folder,
                                      const std::filesystem::path& cli,
                                      const std::vector<std::string>& sbatch_flags);

}  // namespace cp::train
