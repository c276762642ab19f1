// The `similarity` subcommand (dispatched from cli/commands.cpp), and the same work as one
// call for `analyze` when similarity.in_analyze is set (cli/pipelines.cpp).
#pragma once

#include <string>
#include <vector>

#include "deconvscope/analysis/similarity.hpp"

namespace ds {

// deconvscope similarity --run DIR [--section.key VALUE ...]
int cmd_similarity(std::vector<std::string> args);

// Computes the run's similarity and writes analysis/similarity.h5, similarity.csv,
// report/similarity.html and (when the run was analysed) convergence.csv with its CKA
// columns: a write set, so a failure in the middle leaves <run>/similarity.incomplete.
// The caller holds the run's lock.
SimilarityResult similarity_and_page(const Run& run, bool show_progress);

}  // namespace ds
