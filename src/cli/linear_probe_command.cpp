// `deconvscope linear-probe`: parses its flags, calls analysis/linear_probe.hpp and
// report/linear_probe_page.hpp, and prints the final snapshot's probes.
#include "deconvscope/cli/linear_probe_command.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "deconvscope/analysis/analysis_file.hpp"
#include "deconvscope/cli/args.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/run_lock.hpp"
#include "deconvscope/io/write_set.hpp"
#include "deconvscope/report/linear_probe_page.hpp"
#include "deconvscope/report/similarity_page.hpp"

namespace fs = std::filesystem;

namespace ds {

LinearProbeResult linear_probes_and_page(const Run& run, bool show_progress) {
  const LinearProbeResult r = compute_linear_probes(run, run.config().linear_probe, show_progress);
  const RunPaths& paths = run.paths();
  std::error_code ec;
  fs::create_directories(paths.analysis, ec);
  WriteSetMarker marker(run.dir(), "linear-probe",
                        {"analysis/linear_probes.h5", "analysis/linear_probes.csv",
                         "analysis/linear_probe_convergence.csv", "analysis/convergence.csv",
                         "report/linear_probes.html"});
  try {
    write_linear_probes(paths.in_analysis("linear_probes.h5"), r);
    write_linear_probe_csv(paths.analysis, r);
    // convergence.csv (the analysis') gains the probes' columns when the run was analysed.
    // (A damaged analysis is redone by analyze, which adds the columns then.)
    std::string no_analysis;
    if (const auto analysis = read_run_analysis(paths, &no_analysis))
      write_analysis_csv(paths.analysis, *analysis, &r, read_run_similarity(paths).get(),
                         run.config().similarity.settle_threshold);
    write_linear_probe_page(run.dir(), r);
  } catch (const Error& e) {
    throw marker.failed(e);
  }
  marker.complete();
  return r;
}

int cmd_linear_probe(std::vector<std::string> args) {
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::cout << "usage: deconvscope linear-probe --run DIR [--linear_probe.layers all] [--linear_probe.train N]\n"
                 "                                [--linear_probe.test N] [--linear_probe.grid G] [--section.key VALUE ...]\n\n"
                 "A linear classifier on each layer's pooled features at every snapshot of the run in DIR, with\n"
                 "its own config (DIR/config.cfg): when each layer's features become useful. Also the probe on the\n"
                 "input pixels (the floor) and the network's own accuracy. Writes DIR/analysis/linear_probes.h5,\n"
                 "linear_probes.csv, linear_probe_convergence.csv and DIR/report/linear_probes.html.\n"
                 "Definitions: docs/linear-probes-format.md.\n\n"
              << config_help();
    return 0;
  }
  const std::string dir = take_value(args, "--run", "");
  if (dir.empty()) throw Error(ErrorKind::usage, "linear-probe", "expected --run DIR", "e.g. --run runs/quickstart");
  const Config cfg = load_run_config(dir, args);
  const RunLock lock(dir);
  const Run run = Run::open(dir, cfg, "probe");
  const LinearProbeResult r = linear_probes_and_page(run, /*show_progress=*/true);

  const size_t last = r.epochs.size() - 1;
  std::printf("linear probes at epoch %d (fitted on %lld training images, scored on %lld test images)\n",
              r.epochs[last], (long long)r.train_count, (long long)r.test_count);
  // "useful at": the first epoch from which the probe keeps 90% of its final gain over the
  // pixel floor, in the report's words.
  std::printf("%-12s %8s %9s %9s  %s\n", "layer", "features", "train", "test", "useful at");
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const std::vector<float> curve = probe_test_curve(r, l);
    const bool floor_row = r.layers[l] == kPixelsRow;
    const std::string useful =
        floor_row ? "(the floor)" : settling_text(probe_useful_at(r, l), r.epochs, "no gain over the floor");
    std::printf("%-12s %8d %8.1f%% %8.1f%%  %s\n", r.layers[l].c_str(), r.feature_dim[l],
                100.0 * double(r.train_accuracy[r.index(last, l)]), 100.0 * double(curve.back()), useful.c_str());
  }
  for (size_t e = 0; e < r.epochs.size(); ++e)
    std::printf("%sepoch %d: %.1f s (forward passes %.1f s, fits %.1f s)", e ? ", " : "seconds per snapshot: ",
                r.epochs[e], r.seconds[e], r.forward_seconds[e], r.fit_seconds[e]);
  std::printf("\n");
  const RunPaths& paths = run.paths();
  std::printf("wrote %s, %s/linear_probes.csv, %s/linear_probe_convergence.csv\nreport: %s\n",
              paths.in_analysis("linear_probes.h5").c_str(), paths.analysis.c_str(), paths.analysis.c_str(),
              paths.in_report("linear_probes.html").c_str());
  return 0;
}

}  // namespace ds
