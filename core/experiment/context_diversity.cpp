#include "experiment/context_diversity.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"

namespace cp::train {
using nlohmann::json;

std::filesystem::path diversity_path(const std::string& checkpoint) {
    return checkpoint + ".diversity.json";
}

void write_context_diversity(const ContextDiversity& d, const std::filesystem::path& path) {
    const json j = {{"stage", d.stage},
                    {"context_dim", d.context_dim},
                    {"pc1", d.pc1},
                    {"pc2", d.pc2},
                    {"explained_variance", {d.explained_variance[0], d.explained_variance[1]}},
                    {"positions", d.positions},
                    {"tokens", d.tokens},
                    {"frequencies", d.frequencies},
                    {"cosine_min", d.cosine_min},
                    {"cosine_max", d.cosine_max},
                    {"cosine_histogram", d.cosine_histogram},
                    {"mean_cosine", d.mean_cosine},
                    {"effective_rank", d.effective_rank},
                    {"effective_rank_pct", d.effective_rank_pct}};
    // Token texts can hold bytes that are not UTF-8 on their own: replace, never throw.
    write_file_atomic(path, j.dump(-1, ' ', false, json::error_handler_t::replace));
}

ContextDiversity read_context_diversity(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("no context-diversity data at '" + path.string() +
                    "' (it is written when Phase 1 or Context-Pythia's Phase 2 finishes)");
    try {
        const json j = json::parse(in);
        ContextDiversity d;
        d.stage = j.at("stage").get<std::string>();
        d.context_dim = j.at("context_dim").get<std::int64_t>();
        d.pc1 = j.at("pc1").get<std::vector<double>>();
        d.pc2 = j.at("pc2").get<std::vector<double>>();
        d.explained_variance[0] = j.at("explained_variance").at(0).get<double>();
        d.explained_variance[1] = j.at("explained_variance").at(1).get<double>();
        d.positions = j.at("positions").get<std::vector<std::int64_t>>();
        d.tokens = j.at("tokens").get<std::vector<std::string>>();
        d.frequencies = j.at("frequencies").get<std::vector<double>>();
        d.cosine_min = j.at("cosine_min").get<double>();
        d.cosine_max = j.at("cosine_max").get<double>();
        d.cosine_histogram = j.at("cosine_histogram").get<std::vector<std::int64_t>>();
        d.mean_cosine = j.at("mean_cosine").get<double>();
        d.effective_rank = j.at("effective_rank").get<double>();
        d.effective_rank_pct = j.at("effective_rank_pct").get<double>();
        const std::size_t n = d.pc1.size();
        if (d.pc2.size() != n || d.positions.size() != n || d.tokens.size() != n ||
            d.frequencies.size() != n)
            throw Error("the point arrays differ in length");
        return d;
    } catch (const json::exception& e) {
        throw Error("malformed context-diversity file '" + path.string() + "': " + e.what());
    } catch (const Error& e) {
        throw Error("malformed context-diversity file '" + path.string() + "': " + e.what());
    }
}

}  // namespace cp::train
