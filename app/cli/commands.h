// The CLI's commands, one function each: argv from the command word on; returns the exit code.
#pragma once

namespace cp::cli {

int tokenize_command(int argc, char** argv, int first);
int data_prepare_command(int argc, char** argv, int first);
int init_command(int argc, char** argv, int first);
int info_command(int argc, char** argv, int first);
int score_command(int argc, char** argv, int first);
int generate_command(int argc, char** argv, int first);
int run_command(int argc, char** argv, int first);

}  // namespace cp::cli
