// `convert`: a design initialised from a pretrained GPT-NeoX checkpoint (#27, KV_METHODS.md §E),
// with the record of what each tensor is (copied, derived how, new) stored in it and beside it.
// No torch here: the work is behind core/model/conversion.h.
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/tokenizer_option.h"
#include "common/error.h"
#include "common/sha256.h"
#include "data/data_paths.h"
#include "model/checkpoint_tokenizer.h"
#include "model/conversion.h"
#include "model/model_registry.h"
#include "experiment/param_schema.h"

namespace cp::cli {
namespace fs = std::filesystem;

namespace {

// The design options `convert` takes, by their experiment parameters (one schema: the same
// names, checks and help as `run`'s).
constexpr const char* kDesignOptions[] = {"kv-heads", "kv-latent", "context-dim",
                                          "context-interval", "max-contexts"};

// The sizes to try: the one given, or every preset size.
std::vector<model::ConversionTarget> targets_of(const Args& args, model::Design design) {
    train::ExperimentParams p;
    for (const char* cli : kDesignOptions)
        if (args.has(cli)) {
            const train::ParamSpec& spec = *train::param_by_cli(cli);
            spec.set(p, spec.parse_text(args.get(cli)));
            if (spec.check)
                if (const std::string problem = spec.check(p); !problem.empty()) throw Error(problem);
        }
    std::vector<std::string> sizes = {"70m", "tiny"};
    if (args.has("size")) {
        const std::string size = args.get("size");
        if (!model::size_from_key(size))
            throw Error("--size must be 70m or tiny (got '" + size + "')");
        sizes = {size};
    }
    std::vector<model::ConversionTarget> targets;
    for (const std::string& size : sizes) {
        p.size = *model::size_from_key(size);
        targets.push_back({size, p.model_config(model::Design::pythia), p.model_config(design)});
    }
    return targets;
}

// Where the source's tokenizer.json goes so the converted checkpoint is read with it: beside
// `out`, unless it is the installed GPT-2 one (our own checkpoints' default) or already there
// (empty then). A different tokenizer.json already there is refused before any work.
fs::path tokenizer_destination(const fs::path& tokenizer, const fs::path& out) {
    std::error_code ec;
    if (fs::equivalent(tokenizer, data::default_tokenizer_path(), ec)) return {};
    const fs::path beside = (out.has_parent_path() ? out.parent_path() : fs::path(".")) /
                            "tokenizer.json";
    if (!fs::exists(beside)) return beside;
    if (sha256_file(beside) == sha256_file(tokenizer)) return {};
    throw Error("'" + beside.string() +
                "' is another tokenizer than the checkpoint's: the converted model's ids are "
                "the checkpoint's tokenizer's. Write --out into another folder");
}

void print_record(const model::ConversionRecord& r) {
    using K = model::TensorOrigin::Kind;
    std::cout << "converted from " << r.source << " (sha256 " << r.source_sha256.substr(0, 12)
              << "…) into " << r.design << "\n";
    for (K k : {K::copied, K::derived, K::fresh})
        std::cout << "  " << std::left << std::setw(8) << model::to_string(k) << std::right
                  << std::setw(4) << r.count(k) << " tensors, " << std::setw(12) << r.values(k)
                  << " parameters\n";
    for (const model::TensorOrigin& t : r.tensors)
        std::cout << "  " << std::left << std::setw(52) << t.name << std::right << " " << t.how
                  << "\n";
}

}  // namespace

int convert_command(int argc, char** argv, int first) {
    std::vector<Option> options = {
        {"from", "CHECKPOINT",
         "a pretrained GPT-NeoX model.safetensors (Hugging Face's, with config.json and "
         "tokenizer.json beside it) or a workbench Pythia checkpoint (required)"},
        {"design", "DESIGN", "the design to initialise: " + model::design_keys_text() + " (required)"},
        {"out", "FILE", "where to write the converted checkpoint (required); FILE.conversion.json "
                        "beside it holds the per-tensor record"},
        {"size", "SIZE", "the preset size whose Pythia the checkpoint is (70m or tiny; default: "
                         "the one that matches)"},
        {"seed", "S", "initialisation of the design's new tensors (default 0)"},
        kCheckpointTokenizerOption};
    for (const char* cli : kDesignOptions) {
        const train::ParamSpec& spec = *train::param_by_cli(cli);
        options.push_back({cli, spec.value_name, spec.help + " (default: the preset's)"});
    }
    Args args("context-pythia convert --from CHECKPOINT --design DESIGN --out FILE [options]",
              "Writes DESIGN initialised from a pretrained checkpoint: what has the same name and "
              "shape is copied, GQA's K/V heads are mean-pooled, MLA's latent comes from a "
              "truncated SVD of K and V, context-kv's layer-0 query from the pretrained one; the "
              "rest is new. The record of every tensor is printed and stored (see 'info "
              "--checkpoint').",
              options);
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    for (const char* required : {"from", "design", "out"})
        if (!args.has(required))
            throw Error(std::string("--") + required +
                        " is required (see 'context-pythia convert --help')");
    const fs::path from = args.get("from"), out = args.get("out");
    if (!fs::is_regular_file(from))
        throw Error("--from '" + from.string() + "' is not a file");
    const auto design = model::design_from_key(args.get("design"));
    if (!design)
        throw Error("--design: unknown design '" + args.get("design") + "' (" +
                    model::design_keys_text() + ")");
    if (fs::exists(out))
        throw Error("--out '" + out.string() + "' exists: choose a new file (nothing is overwritten)");
    const std::int64_t seed = args.has("seed") ? parse_int_option("seed", args.get("seed")) : 0;
    if (seed < 0) throw Error("--seed must be 0 or positive");
    const std::vector<model::ConversionTarget> targets = targets_of(args, *design);
    const fs::path tokenizer_path =
        model::checkpoint_tokenizer(from, args.get("tokenizer", ""));
    const data::BpeTokenizer tokenizer = load_checkpoint_tokenizer(args, from.string());
    const fs::path tokenizer_copy = tokenizer_destination(tokenizer_path, out);
    if (out.has_parent_path()) fs::create_directories(out.parent_path());
    const model::ConversionRecord r = model::convert_checkpoint(
        from, model::design_key(*design), targets, static_cast<std::uint64_t>(seed), out,
        {{model::kTokenizerFingerprintKey, std::to_string(tokenizer.fingerprint())}});
    if (!tokenizer_copy.empty()) fs::copy_file(tokenizer_path, tokenizer_copy);
    print_record(r);
    std::cout << "wrote " << out.string() << " and " << out.string() << ".conversion.json\n";
    return 0;
}

int checkpoint_info(const std::string& checkpoint) {
    const auto record = model::conversion_record(checkpoint);
    if (!record) {
        std::cout << checkpoint << ": not converted from a pretrained checkpoint (no "
                  << model::kConversionMetadataKey << " record)\n";
        return 0;
    }
    print_record(*record);
    return 0;
}

}  // namespace cp::cli
