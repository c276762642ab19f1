// `deconvscope invariance`: the paper's Fig. 5 for every snapshot of a run. Parses the
// command's shorthands (--images, --epochs are invariance.images, invariance.epochs),
// calls the analysis and the page, and prints a short summary with the time per snapshot.
#include "deconvscope/cli/invariance_command.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "deconvscope/cli/args.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/run_lock.hpp"
#include "deconvscope/io/write_set.hpp"
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

}  // namespace

InvarianceResult invariance_and_report(const Run& run, bool quiet) {
  InvarianceResult r = compute_invariance(run, quiet);
  const RunPaths& paths = run.paths();
  note_replaced_epochs(paths.in_analysis("invariance.h5"), r.epochs);
  std::error_code ec;
  fs::create_directories(paths.analysis, ec);
  if (ec) throw Error(ErrorKind::io, paths.analysis, "cannot create folder: " + ec.message(), "check the folder's permissions");
  WriteSetMarker marker(run.dir(), "invariance",
                        {"analysis/invariance.h5", "analysis/invariance.csv", "report/invariance.html"});
  try {
    write_invariance(paths.in_analysis("invariance.h5"), r);
    write_invariance_csv(paths.in_analysis("invariance.csv"), r);
    write_invariance_page(run.dir(), r);
  } catch (const Error& e) {
    throw marker.failed(e);
  }
  marker.complete();
  return r;
}

int cmd_invariance(std::vector<std::string> args) {
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::cout << "usage: deconvscope invariance --run DIR [--images test:0-4] [--epochs all|1,3,5] "
                 "[--section.key VALUE ...]\n\n"
                 "The paper's Fig. 5 for every snapshot of the run in DIR, with its own config (DIR/config.cfg):\n"
                 "a few images translated vertically and horizontally, scaled and rotated; per snapshot, image and\n"
                 "value the relative distance |f(Tx) - f(x)| / |f(x)| of the chosen layers' rectified outputs, the\n"
                 "true-class probability and the most probable class.\n"
                 "Writes DIR/analysis/invariance.h5, invariance.csv and DIR/report/invariance.html.\n\n"
                 "  --images SPLIT:INDICES  the images (invariance.images; default test:0-4)\n"
                 "  --epochs all|E,E,...    the snapshots measured (invariance.epochs; default all)\n"
                 "  --invariance.layers A,B --invariance.translate/scale/rotate auto|v,v,...|from:to:step\n\n"
                 "Format: docs/invariance-format.md; keys: docs/config.md.\n";
    return 0;
  }
  const std::string dir = take_value(args, "--run", "");
  if (dir.empty()) throw Error(ErrorKind::usage, "invariance", "expected --run DIR", "e.g. --run runs/zfnet-fashion");
  for (const auto& [flag, key] : {std::pair{"--images", "--invariance.images"}, {"--epochs", "--invariance.epochs"}}) {
    const std::string v = take_value(args, flag, "");
    if (!v.empty()) args.insert(args.end(), {key, v});
  }
  const Config cfg = load_run_config(dir, args);
  const RunLock lock(dir);
  const Run run = Run::open(dir, cfg, "measure invariance on");
  const InvarianceResult r = invariance_and_report(run);

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
  const RunPaths& paths = run.paths();
  std::printf("wrote %s, %s\nreport: %s\n", paths.in_analysis("invariance.h5").c_str(),
              paths.in_analysis("invariance.csv").c_str(), paths.in_report("invariance.html").c_str());
  return 0;
}

}  // namespace ds
