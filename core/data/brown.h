// The Brown Corpus's tagged text (`The/at jury/nn said/vbd ./.`) turned back into ordinary prose.
#pragma once

#include <string>
#include <string_view>

namespace cp::data {

// Drops each token's `/tag` (split at the last '/'), turns `` and '' into '"', and re-joins
// with ordinary spacing: no space before , . ; : ? ! ) ] or a closing quote, none after ( [
// or an opening quote. Sentences (one per line in the corpus) are joined with one space.
std::string detokenize_brown(std::string_view tagged);

}  // namespace cp::data
