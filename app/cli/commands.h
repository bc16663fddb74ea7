// The CLI's commands, one function each: argv from the command word on; returns the exit code.
#pragma once

#include <functional>
#include <string>

namespace cp::cli {

// Runs a command and turns its exceptions into the CLI's exit codes: a cp::Error is the user's
// to fix ("error: ...", 1), anything else is ours ("internal error: ...", 3).
int guarded(const std::function<int()>& command);

// Commands of the torch-free front end (context-pythia).
int tokenize_command(int argc, char** argv, int first);
int data_prepare_command(int argc, char** argv, int first);
int runs_command(int argc, char** argv, int first);
int experiments_command(int argc, char** argv, int first);
int db_command(int argc, char** argv, int first);
int sweep_command(int argc, char** argv, int first);

// Commands of the engine (context-pythia-engine), which links libtorch.
int init_command(int argc, char** argv, int first);
int info_command(int argc, char** argv, int first);
int score_command(int argc, char** argv, int first);
int generate_command(int argc, char** argv, int first);
int run_command(int argc, char** argv, int first);
int bench_command(int argc, char** argv, int first);
int cache_eval_command(int argc, char** argv, int first);
int convert_command(int argc, char** argv, int first);
// `info --checkpoint FILE`: a converted checkpoint's per-tensor record.
int checkpoint_info(const std::string& checkpoint);

}  // namespace cp::cli
