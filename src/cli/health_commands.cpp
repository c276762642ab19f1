// `deconvscope health` and `deconvscope compare`: parse their flags, call the library
// (analysis/health.hpp, report/health_page.hpp, report/compare.hpp) and print a short
// summary. Errors are ds::Error; cli/commands.cpp turns them into exit codes.
#include "deconvscope/cli/health_commands.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "deconvscope/analysis/health.hpp"
#include "deconvscope/cli/args.hpp"
#include "deconvscope/cli/pipelines.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/comm.hpp"
#include "deconvscope/io/run_workspace.hpp"
#include "deconvscope/io/write_set.hpp"
#include "deconvscope/report/compare.hpp"
#include "deconvscope/report/health_page.hpp"

namespace ds {

namespace {

const char* kThresholdHelp =
    "  --probe N|auto             scan the first N images of the analysis.probe split for fire rates (0 = all);\n"
    "                             default auto: the images deconvscope analyze searched (analysis/analysis.h5), or\n"
    "                             without an analysis the run's own (analysis.probe_limit, else data.train_limit)\n"
    "  --dominating-ratio X       RMS above X x the layer's median RMS is dominating (default 3)\n"
    "  --collapsed-ratio X        RMS below X x the layer's median RMS is collapsed, i.e. dead (default 0.1)\n"
    "  --redundant-correlation X  max |cosine| with another filter at or above X is redundant (default 0.9)\n"
    "  These are short for the [health] keys --health.probe, --health.dominating_ratio,\n"
    "  --health.collapsed_ratio and --health.redundant_correlation (docs/config.md).\n";

// The [health] keys given on the command line, taken out of args as --health.key VALUE
// pairs: their shorthand flags (--probe N is --health.probe N) and the keys themselves.
std::vector<std::string> take_health_keys(std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const auto& [flag, key] : {std::pair{"--probe", "--health.probe"},
                                  {"--dominating-ratio", "--health.dominating_ratio"},
                                  {"--collapsed-ratio", "--health.collapsed_ratio"},
                                  {"--redundant-correlation", "--health.redundant_correlation"}}) {
    const std::string v = take_value(args, flag, "");
    if (!v.empty()) out.insert(out.end(), {key, v});
  }
  for (const std::string& key : config_keys())
    if (key.rfind("health.", 0) == 0)
      for (const std::string& v : take_values(args, "--" + key)) out.insert(out.end(), {"--" + key, v});
  return out;
}

// How health is computed, from the [health] keys.
HealthOptions health_options(const Config& cfg) {
  HealthOptions o;
  o.probe_limit = cfg.health.probe;
  o.thresholds.dominating_ratio = cfg.health.dominating_ratio;
  o.thresholds.collapsed_ratio = cfg.health.collapsed_ratio;
  o.thresholds.redundant_correlation = cfg.health.redundant_correlation;
  return o;
}

std::string pct(float f) {
  if (!std::isfinite(f)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * f);
  return buf;
}

// The final snapshot's health, a line per conv layer.
void print_table(const HealthResult& h) {
  const size_t last = h.epochs.size() - 1;
  std::printf("filter health at epoch %d (probe: first %lld %s images, %s)\n", h.epochs[last],
              (long long)h.probe_count, h.split.c_str(), h.probe_source.c_str());
  std::printf("%-10s %7s %7s %7s %9s %10s %8s %9s %9s %9s %9s\n", "layer", "filters", "dead", "never", "collapsed",
              "dominating", "max/med", "redundant", "mid cov", "mid freq", "aliasing");
  for (const LayerHealth& l : h.layers) {
    const LayerEpochSummary s = summarize(l, h.thresholds, last);
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.2f", double(s.max_rms_ratio));
    std::printf("%-10s %7d %7s %7s %9s %10s %8s %9s %9s %9s %9s\n", l.layer.c_str(), l.filters, pct(s.dead).c_str(),
                pct(s.never_fires).c_str(), pct(s.collapsed).c_str(), pct(s.dominating).c_str(),
                std::isfinite(s.max_rms_ratio) ? ratio : "-", pct(s.redundant).c_str(), pct(s.mid_coverage).c_str(),
                pct(s.mid).c_str(), pct(s.aliasing).c_str());
  }
  for (const LayerHealth& l : h.layers) {
    int died = 0;
    for (int32_t d : l.dead_since) died += d >= 0 && d < h.epochs[last] ? 1 : 0;
    if (died > 0)
      std::printf("%s: %d filter(s) died before epoch %d and stayed dead\n", l.layer.c_str(), died, h.epochs[last]);
  }
  if (!h.aliasing_note.empty()) std::printf("stride aliasing not measured: %s\n", h.aliasing_note.c_str());
}

}  // namespace

int cmd_health(std::vector<std::string> args) {
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::cout << "usage: deconvscope health --run DIR [options] [--section.key VALUE ...]\n\n"
                 "Filter health of every conv layer at every snapshot of the run in DIR, with its own config\n"
                 "(DIR/config.cfg): dead, dominating and redundant filters, the first layer's frequency content,\n"
                 "and stride aliasing in the second layer's projections (if the run was analysed).\n"
                 "Writes DIR/analysis/health.h5, health.csv, health_summary.csv and DIR/report/health.html.\n\n"
              << kThresholdHelp << "\nDefinitions: docs/health-format.md.\n";
    return 0;
  }
  const std::vector<std::string> health_keys = take_health_keys(args);
  const std::string dir = take_value(args, "--run", "");
  if (dir.empty()) throw Error(ErrorKind::usage, "health", "expected --run DIR", "e.g. --run runs/zfnet-fashion");
  args.insert(args.end(), health_keys.begin(), health_keys.end());
  const Config cfg = load_run_config(dir, args);
  const HealthOptions opt = health_options(cfg);
  // Not sharded: under mpirun every rank computes, rank 0 writes and speaks.
  const RunWorkspace ws(dir, Comm::world().rank() == 0);
  const RunPaths& paths = ws.paths();
  const HealthResult h = compute_health(Run::open(dir, cfg, "measure"), opt);
  if (!ws.writes()) return 0;
  ws.write_set("health", {paths.health_file, paths.health_csv(), paths.health_page}, [&] {
    ws.create_folders();
    write_health(paths.health_file, h);
    write_health_csv(paths.analysis, h);
    write_health_page(dir, h);
  });
  print_table(h);
  std::printf("wrote %s, %s, %s\nreport: %s\n", paths.health_file.c_str(), paths.health_csv().c_str(),
              paths.health_summary_csv().c_str(), paths.health_page.c_str());
  return 0;
}

int cmd_compare(std::vector<std::string> args) {
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::cout << "usage: deconvscope compare --run DIR --run DIR [--run DIR ...] [--out DIR] [options]\n"
                 "       deconvscope compare DIR DIR [DIR ...] [--out DIR] [options]\n\n"
                 "Compares two or more runs by filter health: first-layer mosaics side by side, second-layer\n"
                 "projections, a health table per conv layer, validation curves, a verdict per metric.\n"
                 "Writes DIR/index.html (self-contained), DIR/compare.csv and DIR/verdicts.csv.\n"
                 "A run whose analysis/health.h5 is missing, unsealed, or was computed from other snapshots\n"
                 "(compared by checksum, not file time) gets it computed first.\n\n"
                 "  --out DIR           output folder (default runs/compare)\n"
                 "  --labels A,B,...    names of the runs on the page (default: their folder names)\n"
                 "  --epoch N|last      the snapshot epoch judged (default: the latest epoch every run has a\n"
                 "                      snapshot of; last: each run's own last snapshot)\n"
                 "  --recompute-health  recompute every run's health\n"
              << kThresholdHelp << "\nDefinitions: docs/health-format.md.\n";
    return 0;
  }
  CompareOptions opt;
  // No run's config is read here: the [health] keys come from the command line alone.
  opt.health = health_options(load_config(take_health_keys(args)));
  opt.recompute_health = take_flag(args, "--recompute-health");
  const std::string epoch = take_value(args, "--epoch", "");
  if (epoch == "last") {
    opt.epoch = CompareOptions::kEachLastEpoch;
  } else if (!epoch.empty()) {
    opt.epoch = parse_int(epoch, "--epoch");
    if (opt.epoch < 0) throw Error(ErrorKind::usage, "--epoch", expected_found("an epoch >= 0, or last", epoch));
  }
  const std::string out = take_value(args, "--out", "runs/compare");
  // `--run A --run B` as analyze and health spell it; bare folders still work (after them).
  std::vector<std::string> runs = take_values(args, "--run");
  const std::string labels = take_value(args, "--labels", "");
  if (!labels.empty()) {
    std::stringstream in(labels);
    for (std::string l; std::getline(in, l, ',');) opt.labels.push_back(l);
  }
  for (const std::string& a : args)
    if (a.rfind("--", 0) == 0)
      throw Error(ErrorKind::usage, "compare", "unknown option " + a, "deconvscope compare --help lists the options");
  runs.insert(runs.end(), args.begin(), args.end());
  for (const std::string& run : runs)
    for (const std::string& w : incomplete_write_sets(run)) std::fprintf(stderr, "warning: %s\n", printable(w).c_str());
  const RunWorkspace ws(out, Comm::world().rank() == 0);  // the runs themselves are read without a lock
  const CompareSummary s = compare_command(runs, out, opt);
  for (const std::string& r : s.computed) std::printf("computed the health of %s\n", r.c_str());
  std::printf("compared %s: %s\n", s.at_epoch.c_str(), s.epoch_rule.c_str());
  if (!s.differences.empty()) {
    std::printf("settings that change results differ:\n");
    for (const std::string& d : s.differences) std::printf("  ! %s\n", d.c_str());
  }
  std::printf("verdicts:\n");
  for (const std::string& v : s.verdicts) std::printf("  - %s\n", v.c_str());
  std::printf("not compared:\n");
  for (const std::string& n : s.notes) std::printf("  - %s\n", n.c_str());
  std::printf("wrote %s, %s, %s\n", s.html.c_str(), s.csv.c_str(), s.verdicts_csv.c_str());
  return 0;
}

}  // namespace ds
