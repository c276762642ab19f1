// `deconvscope similarity`: linear CKA of every layer's representation across snapshots,
// as a registered analysis (cli/analyses.hpp): calls analysis/similarity.hpp and
// report/similarity_page.hpp, and prints each layer's CKA to the final snapshot.
#include <cstdio>

#include "deconvscope/analysis/analysis_file.hpp"
#include "deconvscope/analysis/similarity.hpp"
#include "deconvscope/cli/analyses.hpp"
#include "deconvscope/cli/pipelines.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/report/convergence_section.hpp"
#include "deconvscope/report/similarity_page.hpp"

namespace ds {

namespace {

void print_summary(const SimilarityResult& r, const SimilarityConfig& cfg, const RunPaths& paths) {
  std::printf("linear CKA to the final snapshot (epoch %d), %lld training images, grid %d\n", r.epochs.back(),
              (long long)r.image_count, r.grid);
  std::printf("%-12s %9s", "layer", "features");
  for (int e : r.epochs) std::printf(" %7s%-3d", "epoch ", e);
  std::printf(" settles at (CKA >= %.2f from then on)\n", double(cfg.settle_threshold));
  for (size_t l = 0; l < r.layers.size(); ++l) {
    std::printf("%-12s %9lld", r.layers[l].c_str(), (long long)r.feature_dim[l]);
    for (size_t e = 0; e < r.epochs.size(); ++e) std::printf(" %10.3f", double(r.to_final[r.index(e, l)]));
    // Met only at the last snapshot is no answer (CKA to itself is 1 there): said so.
    std::printf(" %s\n", settling_text(cka_settles_at(r, l, cfg.settle_threshold), r.epochs).c_str());
  }
  for (size_t e = 0; e < r.epochs.size(); ++e)
    std::printf("%sepoch %d: %.1f s (forward passes %.1f s)", e ? ", " : "seconds per snapshot: ", r.epochs[e],
                r.seconds[e], r.forward_seconds[e]);
  std::printf("\n");
  std::printf("wrote %s, %s\nreport: %s\n", paths.in_analysis(kSimilarityFile).c_str(),
              paths.in_analysis(kSimilarityCsv).c_str(), paths.in_report(kSimilarityPage).c_str());
}

void similarity_step(const AnalysisCall& call) {
  const SimilarityConfig& cfg = similarity_config(call.run.config());
  const SimilarityResult r = compute_similarity(call.run, cfg, /*show_progress=*/!call.quiet);
  const RunPaths& paths = call.ws.paths();
  call.write([&] {
    write_similarity(paths.in_analysis(kSimilarityFile), r);
    write_similarity_csv(paths.analysis, r);
    // convergence.csv (the analysis') gains the CKA columns when the run was analysed,
    // read back from the file just written with every analysis' measure.
    std::string no_analysis;
    if (const auto analysis = read_run_analysis(paths, &no_analysis))
      write_analysis_csv(paths.analysis, *analysis, convergence_measures(paths, call.run.config()));
    write_similarity_page(call.run.dir(), r, cfg.settle_threshold);
  });
  if (call.summary) print_summary(r, cfg, paths);
}

}  // namespace

const AnalysisCommand& similarity_analysis() {
  static const AnalysisCommand a{
      "similarity",
      "similarity",
      "  similarity --run DIR [--similarity.key VALUE ...]\n"
      "           linear CKA of every layer's representation across snapshots: analysis/similarity.h5, report/similarity.html\n",
      "usage: deconvscope similarity --run DIR [--similarity.images 2000] [--similarity.layers all]\n"
      "                              [--similarity.grid 4] [--section.key VALUE ...]\n\n"
      "Linear CKA of each layer's representation of the first similarity.images training images at\n"
      "every snapshot of the run in DIR, with its own config (DIR/config.cfg): with the same layer at\n"
      "the final snapshot (when each layer's representation settles), at the previous snapshot, and\n"
      "with the other layers. Writes DIR/analysis/similarity.h5, similarity.csv and\n"
      "DIR/report/similarity.html; `deconvscope analyze` then shows it in the Convergence headline.\n"
      "Definitions: docs/similarity-format.md.\n\n",
      /*help_lists_keys=*/true,
      {},
      "e.g. --run runs/quickstart",
      "compare",
      [](const Config& c) { return similarity_config(c).in_analyze; },
      /*check_before_training=*/nullptr,
      [](const RunPaths& p) {
        return std::vector<std::string>{p.in_analysis(kSimilarityFile), p.in_analysis(kSimilarityCsv),
                                        p.convergence_csv(), p.in_report(kSimilarityPage)};
      },
      similarity_step,
      {kSimilarityPage, "Representation similarity"},
      {CompareCell::Place::runs_figures, "similarity", "Representation similarity",
       "Per run, linear CKA of each layer's representation with its own at that run's final snapshot "
       "(docs/similarity-format.md): where a line reaches 1 early, that layer settled early.",
       similarity_compare_cell, /*section=*/nullptr},
      similarity_convergence,
  };
  return a;
}

}  // namespace ds
