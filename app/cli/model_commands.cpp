// `init`, `info`, `score`, `generate`: models from the command line (no torch here: the work is
// behind core/model/inference.h).
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/db_option.h"
#include "cli/tokenizer_option.h"
#include "common/error.h"
#include "data/bpe_tokenizer.h"
#include "data/corpus.h"
#include "data/data_paths.h"
#include "model/inference.h"
#include "store/run_store.h"

namespace cp::cli {
using nlohmann::json;

namespace {

std::int64_t parse_int(const std::string& option, const std::string& text, std::int64_t min_value) {
    const std::int64_t v = parse_int_option(option, text);
    if (v < min_value)
        throw Error("--" + option + " must be at least " + std::to_string(min_value) + " (got " +
                    text + ")");
    return v;
}

std::vector<std::int64_t> to_ids(const std::vector<data::TokenId>& ids) {
    return {ids.begin(), ids.end()};
}

std::vector<std::int64_t> parse_id_list(const std::string& text) {
    std::vector<std::int64_t> ids;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) ids.push_back(parse_int("ids", item, 0));
    return ids;
}

// The model a command reads: --checkpoint FILE, or --run ID's checkpoint in --db, checked
// against the size and SHA-256 recorded when it was written before it is read.
const Option kRunOption{"run", "ID",
                        "a run of the database instead of --checkpoint: its checkpoint, checked "
                        "against what was recorded when it was written"};
// The checkpoint a command reads, and the tokenizer its run's experiment recorded (empty for a
// file, or for an experiment on the installed GPT-2 tokenizer).
struct CheckpointChoice {
    std::string path, tokenizer;
};

CheckpointChoice checkpoint_argument(const Args& args, const std::string& command) {
    if (args.has("run") == args.has("checkpoint"))
        throw Error("give exactly one of --checkpoint and --run (see 'context-pythia " + command +
                    " --help')");
    if (args.has("checkpoint")) return {args.get("checkpoint"), ""};
    store::RunStore store(existing_db_path(args));
    const std::int64_t run = parse_int("run", args.get("run"), 1);
    const store::RunFile f = store.verified_file(run, store::file_role::checkpoint);
    if (f.origin == store::FileOrigin::unverified)
        std::cerr << "Warning: " << store::unverified_note(f) << "\n";
    const json params =
        json::parse(store.experiment(store.run(run).experiment_id).params_json, nullptr, false);
    return {f.path.string(), params.is_object() ? params.value("tokenizer", std::string()) : ""};
}

}  // namespace

int init_command(int argc, char** argv, int first) {
    Args args("context-pythia init --preset NAME --seed S --out FILE.safetensors",
              "Writes a freshly initialised model (MODEL_SPEC.md's init) as safetensors.",
              {{"preset", "NAME",
                "pythia-70m, context-pythia-70m, pythia-tiny or context-pythia-tiny (required)"},
               {"seed", "S", "random seed of the initialisation (required)"},
               {"out", "FILE", "where to write the checkpoint (required)"}});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    for (const char* required : {"preset", "seed", "out"})
        if (!args.has(required))
            throw Error(std::string("--") + required +
                        " is required (see 'context-pythia init --help')");
    model::init_checkpoint(args.get("preset"),
                           static_cast<std::uint64_t>(parse_int("seed", args.get("seed"), 0)),
                           args.get("out"));
    std::cout << "wrote " << args.get("out") << "\n";
    return 0;
}

int info_command(int argc, char** argv, int first) {
    Args args(
        "context-pythia info (--preset NAME | --checkpoint FILE) [options]",
        "Parameter counts by part, and KV-cache bytes measured from a real cache after decoding\n"
        "real text (Brown's first document) and the model's own continuation one token at a time.",
        {{"preset", "NAME",
          "pythia-70m, context-pythia-70m, pythia-tiny or context-pythia-tiny"},
         {"checkpoint", "FILE",
          "instead of a preset: what a converted checkpoint holds (copied, derived, new per tensor)"},
         {"lengths", "L1,L2,...", "cache lengths to measure at (default: 128,512,2048)"},
         kTokenizerOption,
         {"json", "", "print one JSON object"}});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    if (args.has("checkpoint")) {
        if (args.has("preset")) throw Error("give one of --preset and --checkpoint, not both");
        return checkpoint_info(args.get("checkpoint"));
    }
    if (!args.has("preset"))
        throw Error("--preset or --checkpoint is required (see 'context-pythia info --help')");
    const std::vector<std::int64_t> lengths = parse_id_list(args.get("lengths", "128,512,2048"));
    for (std::size_t i = 1; i < lengths.size(); ++i)
        if (lengths[i] <= lengths[i - 1]) throw Error("--lengths must be ascending");
    data::BpeTokenizer tokenizer = load_tokenizer(args);
    const data::Corpus brown = data::read_corpus(data::resolve_corpus("brown"));
    const std::vector<std::int64_t> prompt =
        to_ids(tokenizer.encode(brown.documents[0].text.substr(0, 2000)));
    const model::ModelInfo info = model::model_info(args.get("preset"), prompt, lengths);

    const auto& p = info.parameters;
    json out = {{"preset", args.get("preset")},
                {"config", info.config.to_json()},
                {"parameters",
                 {{"embeddings", p.embeddings},
                  {"context_block", p.context_block},
                  {"layers", p.layers},
                  {"head", p.head},
                  {"total", p.total},
                  {"trainable", p.trainable}}},
                {"kv_cache", json::array()}};
    for (const auto& m : info.kv)
        out["kv_cache"].push_back(
            {{"tokens", m.tokens},
             {"kv_bytes", m.kv_bytes},
             {"kv_bytes_per_token", m.kv_bytes_per_token()},
             {"kv_allocated_bytes", m.kv_allocated_bytes},
             {"context_state_bytes", m.state_bytes},
             {"formula_bytes_per_token",  // shown beside the measurement, never instead
              static_cast<double>(info.config.kv_values_formula(m.tokens) * 4) /
                  static_cast<double>(m.tokens)}});
    if (args.has("json")) {
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::cout << args.get("preset") << " (" << model::to_string(info.config.architecture) << ")\n"
              << "parameters\n";
    for (const char* part : {"embeddings", "context_block", "layers", "head", "total", "trainable"})
        std::cout << "  " << std::left << std::setw(15) << part << std::right << std::setw(12)
                  << out["parameters"][part].get<std::int64_t>() << "\n";
    std::cout << "KV cache, measured from the cache tensors (float32)\n"
              << "  " << std::setw(8) << "tokens" << std::setw(14) << "K+V bytes" << std::setw(12)
              << "bytes/tok" << std::setw(14) << "allocated" << std::setw(12) << "state"
              << std::setw(12) << "formula"
              << "\n";
    for (const auto& row : out["kv_cache"])
        std::cout << "  " << std::setw(8) << row["tokens"].get<std::int64_t>() << std::setw(14)
                  << row["kv_bytes"].get<std::int64_t>() << std::setw(12) << std::fixed
                  << std::setprecision(1) << row["kv_bytes_per_token"].get<double>()
                  << std::setw(14) << row["kv_allocated_bytes"].get<std::int64_t>() << std::setw(12)
                  << row["context_state_bytes"].get<std::int64_t>() << std::setw(12)
                  << row["formula_bytes_per_token"].get<double>() << "\n";
    return 0;
}

int score_command(int argc, char** argv, int first) {
    Args args("context-pythia score (--checkpoint FILE | --run ID) (--text STR | --ids 1,2,3) "
              "[options]",
              "Log-probability of each token given the ones before it: logprobs[i] = ln p(ids[i+1] "
              "| ids[0..i]).",
              {{"checkpoint", "FILE",
                "a workbench checkpoint or a Hugging Face GPT-NeoX model.safetensors"},
               kRunOption,
               db_option(),
               {"text", "STR", "text to tokenise and score"},
               {"ids", "1,2,3", "token ids to score"},
               kCheckpointTokenizerOption,
               {"json", "", "print {\"ids\", \"logprobs\", \"nll\", \"ppl\"} as JSON"}});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    const CheckpointChoice checkpoint = checkpoint_argument(args, "score");
    if (args.has("text") == args.has("ids")) throw Error("give exactly one of --text and --ids");
    std::vector<std::int64_t> ids;
    if (args.has("ids")) {
        ids = parse_id_list(args.get("ids"));
    } else {
        data::BpeTokenizer tokenizer =
            load_checkpoint_tokenizer(args, checkpoint.path, checkpoint.tokenizer);
        ids = to_ids(tokenizer.encode(args.get("text")));
    }
    const model::ScoreResult r = model::score(checkpoint.path, ids);
    const json out = {{"ids", r.ids}, {"logprobs", r.logprobs}, {"nll", r.nll}, {"ppl", r.ppl}};
    if (args.has("json")) {
        std::cout << out.dump() << "\n";
        return 0;
    }
    std::cout << std::setw(6) << "i" << std::setw(10) << "id" << std::setw(14) << "logprob"
              << "\n";
    for (std::size_t i = 0; i < r.logprobs.size(); ++i)
        std::cout << std::setw(6) << i + 1 << std::setw(10) << r.ids[i + 1] << std::setw(14)
                  << std::fixed << std::setprecision(4) << r.logprobs[i] << "\n";
    std::cout << "nll " << r.nll << "  ppl " << r.ppl << "\n";
    return 0;
}

int generate_command(int argc, char** argv, int first) {
    Args args(
        "context-pythia generate (--checkpoint FILE | --run ID) --prompt STR [options]",
        "Continues a prompt with the KV cache: greedy by default, or sampled with a temperature.",
        {{"checkpoint", "FILE",
          "a workbench checkpoint or a Hugging Face GPT-NeoX model.safetensors"},
         kRunOption,
         db_option(),
         {"prompt", "STR", "the text to continue (required)"},
         {"max-tokens", "N", "tokens to generate at most (default: 64)"},
         {"temperature", "T", "0 is greedy (default: 0)"},
         {"top-k", "K", "sample among the K likeliest tokens; 0 is all (default: 0)"},
         {"seed", "S", "sampling seed (default: 0)"},
         kCheckpointTokenizerOption});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    if (!args.has("prompt"))
        throw Error("--prompt is required (see 'context-pythia generate --help')");
    const CheckpointChoice checkpoint = checkpoint_argument(args, "generate");
    model::SamplingOptions options;
    options.max_tokens = parse_int("max-tokens", args.get("max-tokens", "64"), 0);
    options.temperature = parse_double_option("temperature", args.get("temperature", "0"));
    options.top_k = parse_int("top-k", args.get("top-k", "0"), 0);
    options.seed = static_cast<std::uint64_t>(parse_int("seed", args.get("seed", "0"), 0));
    data::BpeTokenizer tokenizer =
        load_checkpoint_tokenizer(args, checkpoint.path, checkpoint.tokenizer);
    const auto prompt = to_ids(tokenizer.encode(args.get("prompt")));
    const auto continuation = model::generate(checkpoint.path, prompt, options);
    std::vector<data::TokenId> ids;
    for (std::int64_t id : continuation) {
        if (id >= tokenizer.vocab_size()) continue;  // padding rows past the tokenizer's vocabulary
        ids.push_back(static_cast<data::TokenId>(id));
    }
    std::cout << args.get("prompt") << tokenizer.decode(ids) << "\n";
    return 0;
}

}  // namespace cp::cli
