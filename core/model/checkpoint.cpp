#include "model/checkpoint.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "model/checkpoint_summary.h"
#include "model/safetensors.h"

namespace cp::model {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

torch::Dtype torch_dtype(DType d, const std::string& where) {
    switch (d) {
        case DType::F32:
            return torch::kFloat32;
        case DType::F16:
            return torch::kFloat16;
        case DType::BF16:
            return torch::kBFloat16;
        case DType::F64:
            return torch::kFloat64;
        default:
            throw Error(where + " is " + to_string(d) + ", not a floating-point weight");
    }
}

}  // namespace

void save_checkpoint(CausalLm& model, const fs::path& path,
                     const std::map<std::string, std::string>& metadata) {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> keep;  // owns the bytes until they are written
    std::vector<TensorBytes> tensors;
    for (const auto& item : model.named_parameters()) {
        const std::string& name = item.key();
        const torch::Tensor& p = item.value();
        keep.push_back(p.detach().to(torch::kCPU, torch::kFloat32).contiguous());
        tensors.push_back({name, DType::F32, keep.back().sizes().vec(), keep.back().data_ptr()});
    }
    std::map<std::string, std::string> meta = metadata;
    meta["format"] = "pt";
    meta["cp_config"] = model.config().to_json().dump();
    meta["cp_checkpoint_version"] = "1";
    write_safetensors(path, tensors, meta);
}

ModelConfig checkpoint_config(const fs::path& path) {
    const SafetensorsFile file(path);
    if (const auto it = file.metadata().find("cp_config"); it != file.metadata().end()) {
        try {
            return ModelConfig::from_json(json::parse(it->second));
        } catch (const json::exception& e) {
            throw Error("checkpoint '" + path.string() +
                        "': its cp_config metadata is not valid JSON");
        }
    }
    if (!file.contains("gpt_neox.embed_in.weight"))
        throw Error("'" + path.string() +
                    "' is neither a workbench checkpoint (no cp_config metadata) nor a "
                    "Hugging Face GPT-NeoX model.safetensors (no gpt_neox.embed_in.weight)");
    // A Hugging Face Pythia file: sizes from the tensors, the rest from config.json beside it.
    ModelConfig c = preset("pythia-70m");
    const auto& embed = file.at("gpt_neox.embed_in.weight");
    if (embed.shape.size() != 2) throw Error("gpt_neox.embed_in.weight must be 2-D");
    c.vocab_rows = embed.shape[0];
    c.embed_dim = embed.shape[1];
    c.layers = gpt_neox_layers(file);
    const std::string h_to_4h = "gpt_neox.layers.0.mlp.dense_h_to_4h.weight";
    if (file.contains(h_to_4h)) c.intermediate = file.at(h_to_4h).shape.at(0);
    const fs::path config_json = path.parent_path() / "config.json";
    if (fs::exists(config_json)) {
        json hf;
        try {
            hf = json::parse(read_file(config_json));
        } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
            throw Error("'" + config_json.string() + "' is not valid JSON (" + e.what() + ")");
        }
        if (!hf.value("use_parallel_residual", true))
            throw Error("'" + config_json.string() +
                        "': use_parallel_residual=false is not supported");
        c.heads = hf.value("num_attention_heads", c.heads);
        c.rotary_pct = hf.value("rotary_pct", c.rotary_pct);
        c.rotary_base = hf.value("rotary_emb_base", c.rotary_base);
        c.layer_norm_eps = hf.value("layer_norm_eps", c.layer_norm_eps);
        c.max_positions = hf.value("max_position_embeddings", c.max_positions);
    } else if (c.embed_dim != 512) {
        throw Error("'" + path.string() + "' has hidden size " + std::to_string(c.embed_dim) +
                    " and no config.json beside it: put the model's config.json in the same folder "
                    "(the number of heads cannot be read from the weights)");
    }
    c.validate();
    return c;
}

void load_weights(CausalLm& model, const fs::path& path) {
    const SafetensorsFile file(path);
    const std::string where = "checkpoint '" + path.string() + "'";
    const auto params = model.named_parameters();
    // Check every name and shape before copying anything.
    for (const auto& item : params) {
        const std::string& name = item.key();
        const torch::Tensor& p = item.value();
        if (!file.contains(name))
            throw Error(where + " lacks tensor '" + name + "' (expected shape " +
                        shape_text(p.sizes().vec()) +
                        "): it was saved from another kind of model than " +
                        to_string(model.config().architecture));
        const TensorEntry& e = file.at(name);
        if (e.shape != p.sizes().vec())
            throw Error(where + ": tensor '" + name + "' has shape " + shape_text(e.shape) +
                        " but the model expects " + shape_text(p.sizes().vec()));
        torch_dtype(e.dtype, where + ": tensor '" + name + "'");
    }
    for (const auto& [name, e] : file.tensors())
        if (!params.contains(name) && !is_hf_buffer(name))  // recomputed here: skipped
            throw Error(where + " has tensor '" + name + "' that a " +
                        to_string(model.config().architecture) +
                        " model does not have: is it a checkpoint of the other architecture?");
    torch::NoGradGuard no_grad;
    for (auto& item : model.named_parameters()) {
        const std::string& name = item.key();
        torch::Tensor& p = item.value();
        const TensorEntry& e = file.at(name);
        const torch::Tensor blob =
            torch::from_blob(const_cast<unsigned char*>(file.data(e)), e.shape,
                             torch::TensorOptions().dtype(torch_dtype(e.dtype, name)));
        p.copy_(blob.to(p.dtype()));
    }
}

void load_context_block(CausalLm& model, const fs::path& path) {
    const SafetensorsFile file(path);
    const std::string where = "Phase 1 checkpoint '" + path.string() + "'";
    auto params = model.named_parameters();
    // The file's names (Context-Pythia's) and where each goes in this model.
    std::vector<std::pair<std::string, std::string>> copies;
    for (const auto& [name, e] : file.tensors()) {
        if (name.rfind("context_block.", 0) != 0 && name.rfind("embed_norm.", 0) != 0 &&
            name != "embed_in.weight")
            continue;
        const std::string target = params.contains(name) ? name : "gpt_neox." + name;
        if (!params.contains(target))
            throw Error(where + " has tensor '" + name + "' that a " +
                        to_string(model.config().architecture) + " model does not read");
        if (e.shape != params[target].sizes().vec())
            throw Error(where + ": tensor '" + name + "' has shape " + shape_text(e.shape) +
                        " but the " + to_string(model.config().architecture) + " model expects " +
                        shape_text(params[target].sizes().vec()) +
                        " (was Phase 1 run at another size?)");
        torch_dtype(e.dtype, where + ": tensor '" + name + "'");
        copies.emplace_back(name, target);
    }
    std::size_t block_tensors = 0;
    for (const auto& [name, target] : copies) block_tensors += name.rfind("context_block.", 0) == 0;
    if (block_tensors == 0 || copies.size() == block_tensors)
        throw Error(where + " holds no ContextBlock and embedding: is it a Phase 1 checkpoint?");
    torch::NoGradGuard no_grad;
    for (const auto& [name, target] : copies) {
        const TensorEntry& e = file.at(name);
        const torch::Tensor blob =
            torch::from_blob(const_cast<unsigned char*>(file.data(e)), e.shape,
                             torch::TensorOptions().dtype(torch_dtype(e.dtype, name)));
        params[target].copy_(blob.to(params[target].dtype()));
    }
}

std::shared_ptr<CausalLm> load_checkpoint(const fs::path& path) {
    const ModelConfig config = checkpoint_config(path);
    auto model = make_model(config, 0);
    load_weights(*model, path);
    return model;
}

void export_hf_folder(CausalLm& model, const fs::path& folder) {
    const ModelConfig& c = model.config();
    if (c.architecture != Architecture::pythia && c.architecture != Architecture::pythia_256)
        throw Error("only the Pythia designs (pythia, pythia-256) export as a Hugging Face "
                    "GPTNeoXForCausalLM folder");
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) throw Error("cannot create '" + folder.string() + "': " + ec.message());
    save_checkpoint(model, folder / "model.safetensors");
    const json config = {{"architectures", {"GPTNeoXForCausalLM"}},
                         {"model_type", "gpt_neox"},
                         {"vocab_size", c.vocab_rows},
                         {"hidden_size", c.embed_dim},
                         {"num_hidden_layers", c.layers},
                         {"num_attention_heads", c.heads},
                         {"intermediate_size", c.intermediate},
                         {"hidden_act", "gelu"},
                         {"rotary_pct", c.rotary_pct},
                         {"rotary_emb_base", c.rotary_base},
                         {"max_position_embeddings", c.max_positions},
                         {"layer_norm_eps", c.layer_norm_eps},
                         {"initializer_range", c.init_std},
                         {"use_parallel_residual", true},
                         {"tie_word_embeddings", false},
                         {"attention_bias", true},
                         {"attention_dropout", 0.0},
                         {"hidden_dropout", 0.0},
                         {"bos_token_id", c.end_of_text_id},
                         {"eos_token_id", c.end_of_text_id},
                         {"use_cache", true},
                         {"torch_dtype", "float32"}};
    write_file_atomic(folder / "config.json", config.dump(2) + "\n");
}

}  // namespace cp::model
