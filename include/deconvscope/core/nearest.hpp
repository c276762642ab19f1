// The nearest of a few known words to a misspelt one, for "did you mean ...?" hints: the
// config's keys (config/config.cpp) and the subcommands (cli/commands.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ds {

// Levenshtein distance: insertions, deletions and substitutions of one byte each.
size_t edit_distance(const std::string& a, const std::string& b);

// The candidate with the fewest edits from `word` (a candidate that `word` begins is 0
// edits away), or "" when even that one needs too many edits for the length of the word
// (a different word rather than a typo).
std::string nearest_word(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace ds
