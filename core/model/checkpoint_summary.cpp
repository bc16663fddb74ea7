#include "model/checkpoint_summary.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "model/checkpoint_tokenizer.h"
#include "model/safetensors.h"

namespace cp::model {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string millions(std::int64_t n) {
    std::ostringstream s;
    s.precision(n >= 10'000'000 ? 3 : 2);
    s << static_cast<double>(n) / 1e6 << " M";
    return s.str();
}

}  // namespace

bool is_hf_buffer(const std::string& name) {
    for (const char* suffix :
         {".attention.bias", ".attention.masked_bias", ".attention.rotary_emb.inv_freq"}) {
        const std::string s = suffix;
        if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0)
            return true;
    }
    return false;
}

std::int64_t gpt_neox_layers(const SafetensorsFile& file) {
    std::int64_t layers = 0;
    while (file.contains("gpt_neox.layers." + std::to_string(layers) + ".attention.dense.weight"))
        ++layers;
    return layers;
}

std::string checkpoint_summary(const fs::path& checkpoint) {
    const SafetensorsFile file(checkpoint);
    std::int64_t parameters = 0;
    for (const auto& [name, e] : file.tensors())
        if (!is_hf_buffer(name)) parameters += e.numel();
    std::ostringstream s;
    const auto& meta = file.metadata();
    if (const auto it = meta.find("cp_config"); it != meta.end()) {
        const json c = json::parse(it->second, nullptr, false);
        s << "workbench checkpoint";
        if (c.is_object()) {
            s << " (" << c.value("architecture", std::string("?")) << "): hidden "
              << c.value("embed_dim", 0) << ", " << c.value("layers", 0) << " layers, "
              << c.value("heads", 0) << " heads, vocabulary " << c.value("vocab_rows", 0);
        }
        if (meta.count(kConversionMetadataKey)) s << ", converted from a pretrained one";
    } else {
        if (!file.contains("gpt_neox.embed_in.weight"))
            throw Error("'" + checkpoint.string() +
                        "' is neither a workbench checkpoint nor a Hugging Face GPT-NeoX file "
                        "(no gpt_neox.embed_in.weight)");
        const auto& embed = file.at("gpt_neox.embed_in.weight").shape;
        s << "Hugging Face GPT-NeoX: hidden " << (embed.size() == 2 ? embed[1] : 0) << ", "
          << gpt_neox_layers(file) << " layers";
        const fs::path config = checkpoint.parent_path() / "config.json";
        const json hf = fs::exists(config) ? json::parse(read_file(config), nullptr, false)
                                           : json(nullptr);
        if (hf.is_object() && hf.contains("num_attention_heads"))
            s << ", " << hf.value("num_attention_heads", 0) << " heads";
        else
            s << " (no config.json beside it: heads unknown)";
        s << ", vocabulary " << (embed.empty() ? 0 : embed[0]);
    }
    s << "; " << millions(parameters) << " parameters; tokenizer: ";
    try {
        s << checkpoint_tokenizer(checkpoint, "").string();
    } catch (const Error&) {
        s << "none beside it (give --tokenizer)";
    }
    return s.str();
}

}  // namespace cp::model
