// `deconvscope similarity`: parses its flags, calls analysis/similarity.hpp and
// report/similarity_page.hpp, and prints each layer's CKA to the final snapshot.
#include "deconvscope/cli/similarity_command.hpp"

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "deconvscope/analysis/analysis_file.hpp"
#include "deconvscope/analysis/linear_probe.hpp"
#include "deconvscope/cli/args.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/run_lock.hpp"
#include "deconvscope/io/write_set.hpp"
#include "deconvscope/report/similarity_page.hpp"

namespace fs = std::filesystem;

namespace ds {

SimilarityResult similarity_and_page(const Run& run, bool show_progress) {
  const SimilarityConfig& cfg = run.config().similarity;
  const SimilarityResult r = compute_similarity(run, cfg, show_progress);
  const RunPaths& paths = run.paths();
  std::error_code ec;
  fs::create_directories(paths.analysis, ec);
  WriteSetMarker marker(run.dir(), "similarity",
                        {"analysis/similarity.h5", "analysis/similarity.csv", "analysis/convergence.csv",
                         "report/similarity.html"});
  try {
    write_similarity(paths.in_analysis("similarity.h5"), r);
    write_similarity_csv(paths.analysis, r);
    // convergence.csv (the analysis') gains the CKA columns when the run was analysed.
    std::string no_analysis;
    if (const auto analysis = read_run_analysis(paths, &no_analysis))
      write_analysis_csv(paths.analysis, *analysis, read_run_linear_probes(paths).get(), &r, cfg.settle_threshold);
    write_similarity_page(run.dir(), r, cfg.settle_threshold);
  } catch (const Error& e) {
    throw marker.failed(e);
  }
  marker.complete();
  return r;
}

int cmd_similarity(std::vector<std::string> args) {
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::cout << "usage: deconvscope similarity --run DIR [--similarity.images 2000] [--similarity.layers all]\n"
                 "                              [--similarity.grid 4] [--section.key VALUE ...]\n\n"
                 "Linear CKA of each layer's representation of the first similarity.images training images at\n"
                 "every snapshot of the run in DIR, with its own config (DIR/config.cfg): with the same layer at\n"
                 "the final snapshot (when each layer's representation settles), at the previous snapshot, and\n"
                 "with the other layers. Writes DIR/analysis/similarity.h5, similarity.csv and\n"
                 "DIR/report/similarity.html; `deconvscope analyze` then shows it in the Convergence headline.\n"
                 "Definitions: docs/similarity-format.md.\n\n"
              << config_help();
    return 0;
  }
  const std::string dir = take_value(args, "--run", "");
  if (dir.empty()) throw Error(ErrorKind::usage, "similarity", "expected --run DIR", "e.g. --run runs/quickstart");
  const Config cfg = load_run_config(dir, args);
  const RunLock lock(dir);
  const Run run = Run::open(dir, cfg, "compare");
  const SimilarityResult r = similarity_and_page(run, /*show_progress=*/true);

  std::printf("linear CKA to the final snapshot (epoch %d), %lld training images, grid %d\n", r.epochs.back(),
              (long long)r.image_count, r.grid);
  std::printf("%-12s %9s", "layer", "features");
  for (int e : r.epochs) std::printf(" %7s%-3d", "epoch ", e);
  std::printf(" settles at (CKA >= %.2f from then on)\n", double(cfg.similarity.settle_threshold));
  for (size_t l = 0; l < r.layers.size(); ++l) {
    std::printf("%-12s %9lld", r.layers[l].c_str(), (long long)r.feature_dim[l]);
    for (size_t e = 0; e < r.epochs.size(); ++e) std::printf(" %10.3f", double(r.to_final[r.index(e, l)]));
    // Met only at the last snapshot is no answer (CKA to itself is 1 there): said so.
    std::printf(" %s\n", settling_text(cka_settles_at(r, l, cfg.similarity.settle_threshold), r.epochs).c_str());
  }
  for (size_t e = 0; e < r.epochs.size(); ++e)
    std::printf("%sepoch %d: %.1f s (forward passes %.1f s)", e ? ", " : "seconds per snapshot: ", r.epochs[e],
                r.seconds[e], r.forward_seconds[e]);
  std::printf("\n");
  const RunPaths& paths = run.paths();
  std::printf("wrote %s, %s/similarity.csv\nreport: %s\n", paths.in_analysis("similarity.h5").c_str(),
              paths.analysis.c_str(), paths.in_report("similarity.html").c_str());
  return 0;
}

}  // namespace ds
