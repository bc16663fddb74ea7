// A design initialised from a pretrained GPT-NeoX checkpoint (#27, KV_METHODS.md §E): what every
// tensor of the converted model is — copied from the checkpoint, derived from it (how), or new —
// so a researcher starting from EleutherAI's Pythia knows what the design keeps of it. Torch-free
// interface: the CLI and the GUI read the record without torch.
//
// The rules, per tensor of the design (first that applies):
// - pythia-gqa's K and V: each group's pretrained K (V) heads mean-pooled (Ainslie et al., 2023);
//   its queries: the query rows of the fused query_key_value.
// - pythia-mla's latent and up-projections: a truncated SVD of the stacked pretrained K (its
//   non-rotary dims) and V projections; the shared rotary key (DeepSeek-V2's k_r): the mean over
//   heads of the pretrained keys' rotary rows; its queries as GQA's.
// - context-kv's layer 0 query (q_proj): the pretrained query rows; its keys and values of the
//   contexts, and the ContextBlock, are new.
// - any other tensor of the same name (GPT-NeoX's, or Context-Pythia's top-level one under
//   gpt_neox.) and shape: copied; else new (the design's own initialisation at `seed`).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/checkpoint_tokenizer.h"
#include "model/model_config.h"

namespace cp::model {

struct TensorOrigin {
    enum class Kind { copied, derived, fresh };
    std::string name;  // the converted model's tensor
    Kind kind = Kind::fresh;
    std::string how;   // "copied from gpt_neox.embed_in.weight", "derived: ...", "new"
};
const char* to_string(TensorOrigin::Kind k);  // "copied", "derived", "new"

struct ConversionRecord {
    std::string source;         // the checkpoint's path as given
    std::string source_sha256;  // of its bytes
    std::string design;         // the design key
    std::vector<TensorOrigin> tensors;
    std::int64_t count(TensorOrigin::Kind k) const;
    std::int64_t values(TensorOrigin::Kind k) const;  // parameters (numbers) of that kind
    std::vector<std::int64_t> sizes;                  // parameters of each tensor, same order
    std::string to_json() const;
    static ConversionRecord from_json(const std::string& text);  // throws cp::Error
};

// A converted checkpoint's record (ConversionRecord::to_json) is stored in its metadata under
// kConversionMetadataKey (model/checkpoint_tokenizer.h).

// A size the checkpoint may be converted at: Pythia at that size (what the checkpoint must be:
// hidden width, layers, heads, MLP) and the design's preset there with the user's options.
struct ConversionTarget {
    std::string size;  // "70m", "tiny"
    ModelConfig size_pythia, design;
};

// The design's config when converted from a checkpoint of config `source` (a GPT-NeoX Pythia):
// the first target whose Pythia the checkpoint is, taking the checkpoint's vocabulary rows,
// rotary and norms. Throws cp::Error naming the checkpoint's shape and every target's when none
// matches.
ModelConfig converted_config(const ModelConfig& source, const std::vector<ConversionTarget>& targets);

class CausalLm;

// Initialises `model` in place from the pretrained checkpoint `from` by the rules above (what the
// rules do not reach keeps the model's own initialisation); `size_pythia` is Pythia at the
// model's size, which the checkpoint must be (else cp::Error naming both shapes and --size).
ConversionRecord initialise_from(CausalLm& model, const std::string& design_key,
                                 const std::filesystem::path& from, const ModelConfig& size_pythia,
                                 const std::string& size);

// Writes `out` (safetensors, our checkpoint format, the record in its metadata) and
// `out` + ".conversion.json" beside it; `extra_metadata` is added (the tokenizer's fingerprint).
ConversionRecord convert_checkpoint(const std::filesystem::path& from, const std::string& design_key,
                                    const std::vector<ConversionTarget>& targets, std::uint64_t seed,
                                    const std::filesystem::path& out,
                                    const std::vector<std::pair<std::string, std::string>>&
                                        extra_metadata = {});

// The record stored in a checkpoint's metadata, if it is a conversion.
std::optional<ConversionRecord> conversion_record(const std::filesystem::path& checkpoint);

}  // namespace cp::model
