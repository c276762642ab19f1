// `deconvscope linear-probe`: a linear classifier on every layer of every snapshot, as a
// registered analysis (cli/analyses.hpp): calls analysis/linear_probe.hpp and
// report/linear_probe_page.hpp, and prints the final snapshot's probes.
#include <cmath>
#include <cstdio>

#include "deconvscope/analysis/analysis_file.hpp"
#include "deconvscope/analysis/linear_probe.hpp"
#include "deconvscope/cli/analyses.hpp"
#include "deconvscope/cli/pipelines.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/report/convergence_section.hpp"
#include "deconvscope/report/linear_probe_page.hpp"

namespace ds {

namespace {

void print_summary(const LinearProbeResult& r, const RunPaths& paths) {
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
  std::printf("wrote %s, %s, %s\nreport: %s\n", paths.in_analysis(kLinearProbesFile).c_str(),
              paths.in_analysis(kLinearProbesCsv).c_str(), paths.in_analysis(kLinearProbeConvergenceCsv).c_str(),
              paths.in_report(kLinearProbesPage).c_str());
}

void linear_probe_step(const AnalysisCall& call) {
  const Run& run = call.run;
  const LinearProbeResult r = compute_linear_probes(run, linear_probe_config(run.config()), /*show_progress=*/!call.quiet);
  const RunPaths& paths = call.ws.paths();
  call.write([&] {
    write_linear_probes(paths.in_analysis(kLinearProbesFile), r);
    write_linear_probe_csv(paths.analysis, r);
    // convergence.csv (the analysis') gains the probes' columns when the run was analysed,
    // read back from the file just written with every analysis' measure.
    // (A damaged analysis is redone by analyze, which adds the columns then.)
    std::string no_analysis;
    if (const auto analysis = read_run_analysis(paths, &no_analysis))
      write_analysis_csv(paths.analysis, *analysis, convergence_measures(paths, run.config()));
    write_linear_probe_page(run.dir(), r);
  });
  if (call.summary) print_summary(r, paths);
}

}  // namespace

const AnalysisCommand& linear_probe_analysis() {
  static const AnalysisCommand a{
      "linear_probe",
      "linear-probe",
      "  linear-probe --run DIR [--linear_probe.key VALUE ...]\n"
      "           a linear classifier on every layer of every snapshot: analysis/linear_probes.h5, report/linear_probes.html\n",
      "usage: deconvscope linear-probe --run DIR [--linear_probe.layers all] [--linear_probe.train N]\n"
      "                                [--linear_probe.test N] [--linear_probe.grid G] [--section.key VALUE ...]\n\n"
      "A linear classifier on each layer's pooled features at every snapshot of the run in DIR, with\n"
      "its own config (DIR/config.cfg): when each layer's features become useful. Also the probe on the\n"
      "input pixels (the floor) and the network's own accuracy. Writes DIR/analysis/linear_probes.h5,\n"
      "linear_probes.csv, linear_probe_convergence.csv and DIR/report/linear_probes.html.\n"
      "Definitions: docs/linear-probes-format.md.\n\n",
      /*help_lists_keys=*/true,
      {},
      "e.g. --run runs/quickstart",
      "probe",
      [](const Config& c) { return linear_probe_config(c).in_analyze; },
      /*check_before_training=*/nullptr,
      [](const RunPaths& p) {
        return std::vector<std::string>{p.in_analysis(kLinearProbesFile), p.in_analysis(kLinearProbesCsv),
                                        p.in_analysis(kLinearProbeConvergenceCsv), p.convergence_csv(),
                                        p.in_report(kLinearProbesPage)};
      },
      linear_probe_step,
      {kLinearProbesPage, "Linear probes"},
      {CompareCell::Place::runs_column, /*anchor=*/"", "linear probes, best layer (last epoch)", /*hint_html=*/"",
       linear_probe_compare_cell, /*section=*/nullptr},
      linear_probe_convergence,
  };
  return a;
}

}  // namespace ds
