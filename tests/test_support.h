// Shared helpers for the tests: the installed real data, temporary folders, running the CLI.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data/bpe_tokenizer.h"
#include "data/corpus.h"

namespace cp::test {

std::filesystem::path data_dir();
std::filesystem::path brown_dir();  // fails the test if scripts/setup.sh has not run
std::filesystem::path nlp_corpus_dir();
std::filesystem::path gpt2_tokenizer_dir();

// The GPT-2 tokenizer, loaded once per test binary (a copy per call: the word cache is
// per instance).
data::BpeTokenizer gpt2_tokenizer();

// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

void write_text(const std::filesystem::path& path, const std::string& bytes);
std::string read_text(const std::filesystem::path& path);

struct CommandResult {
    int exit_code = -1;
    std::string out, err;
};
// Runs a program with arguments (no shell), optional stdin; captures stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_text = "");
CommandResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text = "");

// The message of the cp::Error that `f` throws, or "(no error)".
std::string error_of(const std::function<void()>& f);

// The first sentences of a real Brown document, detokenised: real text for small fixtures.
std::string real_sentences(std::size_t max_bytes);

}  // namespace cp::test
