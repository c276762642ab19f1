// `deconvscope invariance`: the paper's Fig. 5 for every snapshot of a run, as a
// registered analysis (cli/analyses.hpp). Its shorthands --images, --epochs are
// invariance.images, invariance.epochs; its step calls the analysis and the page, and
// prints a short summary with the time per snapshot.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "deconvscope/analysis/invariance.hpp"
#include "deconvscope/analysis/image_selection.hpp"
#include "deconvscope/cli/analyses.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/report/invariance_page.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

std::string join_epochs(const std::vector<int>& epochs) {
  std::string s;
  for (int e : epochs) s += (s.empty() ? "" : ",") + std::to_string(e);
  return s;
}

// invariance.h5 holds one set of epochs: a run over fewer (--epochs 1,6) replaces one
// over more. Said, with how to measure the others again, rather than done silently.
void note_replaced_epochs(const std::string& file, const std::vector<int>& now) {
  std::vector<int> before;
  try {
    if (fs::exists(file)) before = read_invariance(file).epochs;
  } catch (const Error&) {
    return;  // an unreadable old file is replaced without a word about its epochs
  }
  std::vector<int> dropped;
  for (int e : before)
    if (std::find(now.begin(), now.end(), e) == now.end()) dropped.push_back(e);
  if (!dropped.empty())
    std::fprintf(stderr,
                 "note: %s held epochs %s and now holds epochs %s only: the results for %s are replaced "
                 "(--epochs all measures every snapshot again)\n",
                 file.c_str(), join_epochs(before).c_str(), join_epochs(now).c_str(), join_epochs(dropped).c_str());
}

void print_summary(const InvarianceResult& r, const RunPaths& paths) {
  // The last snapshot's mean distance per layer and transformation, and the time.
  const size_t last = r.epochs.size() - 1;
  std::printf("invariance at epoch %d (%zu %s images; mean over images and sweep)\n", r.epochs[last], r.images.size(),
              r.split.c_str());
  std::printf("%-12s", "transform");
  for (const std::string& l : r.layers) std::printf(" %12s", ("d(" + l + ")").c_str());
  std::printf(" %12s\n", "p(true)");
  for (const InvarianceSweep& s : r.sweeps) {
    std::printf("%-12s", s.name());
    for (size_t l = 0; l < r.layers.size(); ++l)
      std::printf(" %12.4f", invariance_summary(s, int(l), last, r.images.size()));
    std::printf(" %12.4f\n", invariance_summary(s, -1, last, r.images.size()));
  }
  double total = 0;
  for (double s : r.seconds) total += s;
  std::printf("%.3f s per snapshot (%zu snapshots)\n", r.seconds.empty() ? 0.0 : total / double(r.seconds.size()),
              r.seconds.size());
  std::printf("wrote %s, %s\nreport: %s\n", paths.in_analysis(kInvarianceFile).c_str(),
              paths.in_analysis(kInvarianceCsv).c_str(), paths.in_report(kInvariancePage).c_str());
}

void invariance_step(const AnalysisCall& call) {
  const InvarianceResult r = compute_invariance(call.run, call.quiet);
  const RunPaths& paths = call.ws.paths();
  if (call.ws.writes()) note_replaced_epochs(paths.in_analysis(kInvarianceFile), r.epochs);
  call.write([&] {
    write_invariance(paths.in_analysis(kInvarianceFile), r);
    write_invariance_csv(paths.in_analysis(kInvarianceCsv), r);
    write_invariance_page(call.run.dir(), r);
  });
  if (call.summary) print_summary(r, paths);
}

}  // namespace

const AnalysisCommand& invariance_analysis() {
  static const AnalysisCommand a{
      "invariance",
      "invariance",
      "  invariance --run DIR [--images test:0-4] [--epochs all|1,3,5] [--section.key VALUE ...]\n"
      "           the paper's Fig. 5 at every snapshot: analysis/invariance.h5, report/invariance.html\n",
      "usage: deconvscope invariance --run DIR [--images test:0-4] [--epochs all|1,3,5] "
      "[--section.key VALUE ...]\n\n"
      "The paper's Fig. 5 for every snapshot of the run in DIR, with its own config (DIR/config.cfg):\n"
      "a few images translated vertically and horizontally, scaled and rotated; per snapshot, image and\n"
      "value the relative distance |f(Tx) - f(x)| / |f(x)| of the chosen layers' rectified outputs, the\n"
      "true-class probability and the most probable class.\n"
      "Writes DIR/analysis/invariance.h5, invariance.csv and DIR/report/invariance.html.\n\n"
      "  --images SPLIT:INDICES  the images (invariance.images; default test:0-4)\n"
      "  --epochs all|E,E,...    the snapshots measured (invariance.epochs; default all)\n"
      "  --invariance.layers A,B --invariance.translate/scale/rotate auto|v,v,...|from:to:step\n\n"
      "Format: docs/invariance-format.md; keys: docs/config.md.\n",
      /*help_lists_keys=*/false,
      {{"--images", "images"}, {"--epochs", "epochs"}},
      "e.g. --run runs/zfnet-fashion",
      "measure invariance on",
      [](const Config& c) { return invariance_config(c).in_analyze; },
      [](const Config& c) { parse_image_selection(invariance_config(c).images, "invariance.images"); },
      [](const RunPaths& p) {
        return std::vector<std::string>{p.in_analysis(kInvarianceFile), p.in_analysis(kInvarianceCsv),
                                        p.in_report(kInvariancePage)};
      },
      invariance_step,
      {kInvariancePage, "Invariance"},
      {CompareCell::Place::section, "invariance", "Invariance",
       "Each run's mean distance |f(Tx) &minus; f(x)| / |f(x)| over its sweeps, per layer and transformation, "
       "against the epoch (deconvscope invariance).",
       /*cell=*/nullptr, invariance_compare_section},
      /*convergence=*/nullptr,
  };
  return a;
}

}  // namespace ds
