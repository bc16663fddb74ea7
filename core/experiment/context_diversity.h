// How diverse a ContextBlock's context vectors are on held-out text, as plain numbers: a 2-D PCA
// projection with each point's token, position and training frequency, the histogram of pairwise
// cosine similarities and the effective rank. Written as JSON beside the checkpoint it describes
// (<checkpoint>.diversity.json), so the workbench can show it without loading torch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cp::train {

struct ContextDiversity {
    std::string stage;  // "after Phase 1", "after Phase 2"
    std::int64_t context_dim = 0;
    std::vector<double> pc1, pc2;           // the points' coordinates on the first two components
    double explained_variance[2] = {0, 0};  // share of the variance each component explains
    std::vector<std::int64_t> positions;    // each point's position in the held-out text
    std::vector<std::string> tokens;        // each point's token text
    std::vector<double> frequencies;        // each token's share of the training tokens
    double cosine_min = -1, cosine_max = 1;
    std::vector<std::int64_t> cosine_histogram;  // counts of distinct pairs, equal-width bins
    double mean_cosine = 0;
    double effective_rank = 0, effective_rank_pct = 0;
};

void write_context_diversity(const ContextDiversity& d, const std::filesystem::path& path);
// Throws cp::Error naming the file when it is missing or malformed.
ContextDiversity read_context_diversity(const std::filesystem::path& path);
// Where the diversity of a checkpoint is kept.
std::filesystem::path diversity_path(const std::string& checkpoint);

}  // namespace cp::train
