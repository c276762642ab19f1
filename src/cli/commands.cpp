// Subcommand dispatch: train, analyze, health, the registered analyses (cli/analyses.hpp),
// compare (cli/health_commands.cpp) and bench, and --version. Each parses its own flags, hands the rest to the config loader,
// and calls the library. This is where the process group (core/comm.hpp) is asked: the
// commands hand it, or whether this process writes for the job, to what they call.
#include "deconvscope/cli/commands.hpp"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <functional>
#include <map>

#include "deconvscope/analysis/analysis_bench.hpp"
#include "deconvscope/analysis/analyze.hpp"
#include "deconvscope/cli/analyses.hpp"
#include "deconvscope/cli/args.hpp"
#include "deconvscope/cli/health_commands.hpp"
#include "deconvscope/cli/pipelines.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/core/comm.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/nearest.hpp"
#include "deconvscope/core/progress.hpp"
#include "deconvscope/io/run_workspace.hpp"
#include "deconvscope/train/bench.hpp"
#include "deconvscope/train/trainer.hpp"

namespace ds {

namespace {

// The usage around the registered analyses' lines (cli/analyses.hpp), which come after health.
const char* kUsageHead =
    "usage: deconvscope <command> [options]\n"
    "\n"
    "commands:\n"
    "  train    --config FILE [--force] [--section.key VALUE ...]\n"
    "           train the network a config describes; snapshots go to runs/<run.name>/snapshots/\n"
    "  train    --run DIR --resume [--train.epochs N]\n"
    "           continue the run in DIR with its own config (DIR/config.cfg)\n"
    "  analyze  --run DIR [--force] [--analysis.key VALUE ...]   (also spelt analyse)\n"
    "           deconvnet over every snapshot of a run: analysis/analysis.h5, CSVs, report/index.html\n"
    "  health   --run DIR [--probe N] [--section.key VALUE ...]\n"
    "           dead, dominating, redundant and aliased filters of every snapshot: analysis/health.h5, report/health.html\n";
const char* kUsageTail =
    "  compare  --run DIR --run DIR [--run DIR ...] [--out DIR]   (or the folders without --run)\n"
    "           compare runs by filter health: one self-contained HTML page plus CSV\n"
    "  bench    --config FILE [--iters N] [--profile] [--train.batch B] [--run.threads T]\n"
    "           print train_images_per_s and infer_images_per_s on random data\n"
    "  bench    --run DIR [--analysis.key VALUE ...]\n"
    "           time the analysis of a run's newest snapshot against a plain forward pass\n"
    "\n"
    "`deconvscope <command> --help` lists that command's options and every config key;\n"
    "`deconvscope --version` prints the version.\n";

std::string usage() {
  std::string u = kUsageHead;
  for (const AnalysisCommand* a : analyses()) u += a->usage;
  return u + kUsageTail;
}

// The keys a resume may change (config's one list of them), comma-separated, in lines
// of the help's width.
std::string resume_keys_text() {
  std::string s, line;
  for (const std::string& k : resume_changeable_keys()) {
    if (!line.empty() && line.size() + k.size() > 80) {
      s += line + ",\n             ";
      line.clear();
    }
    line += (line.empty() ? "" : ", ") + k;
  }
  return s + line;
}

int cmd_train(std::vector<std::string> args) {
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::cout << "usage: deconvscope train --config FILE [--force] [--section.key VALUE ...]\n"
                 "       deconvscope train --run DIR --resume [--train.epochs N] [--section.key VALUE ...]\n\n"
                 "  --force    start over in a run.dir that already holds a run\n"
                 "  --resume   continue a run from its newest complete state, with its own config.cfg;\n"
                 "             a value that differs from it and changes the weights is refused; these may change:\n"
                 "             "
              << resume_keys_text()
              << "\n"
                 "             a folder without a run is refused (a resume never starts a new run)\n"
                 "  --run DIR  the run to resume (else run.dir of --config FILE, runs/run by default)\n\n"
              << config_help();
    return 0;
  }
  TrainOptions opt;
  opt.resume = take_flag(args, "--resume");
  opt.force = take_flag(args, "--force");
  const std::string run = take_value(args, "--run", "");
  Config cfg;
  if (run.empty()) {
    cfg = load_config(args);
  } else {
    // The run's own config, in the folder as given now (it may have moved since).
    if (!opt.resume)
      throw Error(ErrorKind::usage, "train --run " + run, "--run DIR continues a run and goes with --resume",
                  "a new run: deconvscope train --config FILE --run.dir " + run);
    for (const std::string& a : args)
      if (a == "--config" || a.rfind("--config=", 0) == 0 || a == "--run.dir" || a.rfind("--run.dir=", 0) == 0)
        throw Error(ErrorKind::usage, "train --run " + run, "--run DIR takes the run's own config; " + a + " contradicts it",
                    "deconvscope train --run " + run + " --resume, with overrides such as --train.epochs N");
    args.insert(args.end(), {"--run.dir", run});
    cfg = load_run_config(run, args);
  }
  // The analyses' keys are stored in config.cfg and used by later analyses (and by the
  // live one every epoch): a typo is refused now, not warned about each epoch.
  for (const AnalysisCommand* a : analyses())
    if (a->check_before_training) a->check_before_training(cfg);
  Comm& comm = Comm::world();
  const RunWorkspace ws(run_dir(cfg), comm.rank() == 0);
  if (cfg.analysis.live) {
    // The report grows while training runs; an analysis failure is reported, not fatal.
    opt.on_snapshot = [&cfg, &ws, &comm](int epoch, const std::string&) {
      try {
        AnalyzeOptions quiet;
        quiet.quiet = true;
        quiet.comm = &comm;
        const AnalyzeOutcome a = analyze_and_report(cfg, ws, quiet);
        std::fprintf(stderr, "analysed epoch %d: %s\n", epoch, a.report.c_str());
      } catch (const Error& e) {
        std::fprintf(stderr, "warning: live analysis of epoch %d failed: %s\n", epoch, e.what());
      }
    };
  }
  TrainSummary s;
  try {
    s = train(cfg, opt, comm);
  } catch (const Error& e) {
    // The run's log keeps why the run stopped. Bad input is refused before the log is
    // touched (a refused command changes nothing in the folder), so only these kinds.
    const std::string log = RunPaths::of(run_dir(cfg)).log;
    const bool stopped = e.kind() == ErrorKind::interrupted || e.kind() == ErrorKind::divergence ||
                         e.kind() == ErrorKind::io;
    if (stopped && std::filesystem::exists(log)) RunLog::append_to(log, std::string("error: ") + e.what());
    throw;
  }
  if (ws.writes())  // under mpirun every rank returns the same summary
    std::printf("%s %s %s epoch %d: val_loss %.4f val_accuracy %.4f\n", s.already_complete ? "resumed" : "trained",
                s.dir.c_str(), s.already_complete ? "already complete at" : "to", s.last_epoch, s.val_loss,
                s.val_accuracy);
  return 0;
}

int cmd_analyze(std::vector<std::string> args) {
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::cout << "usage: deconvscope analyze --run DIR [--force] [--section.key VALUE ...]\n\n"
                 "Runs the deconvnet over every snapshot in DIR/snapshots with the run's own config\n"
                 "(DIR/config.cfg); analysis.* keys (and others) can be overridden here.\n"
                 "  --force    recompute epochs already in DIR/analysis/analysis.h5\n\n"
              << config_help();
    return 0;
  }
  AnalyzeOptions opt;
  opt.force = take_flag(args, "--force");
  const std::string dir = take_value(args, "--run", "");
  if (dir.empty()) throw Error(ErrorKind::usage, "analyze", "expected --run DIR", "e.g. --run runs/quickstart");
  const Config cfg = load_run_config(dir, args);
  Comm& comm = Comm::world();
  opt.comm = &comm;
  const RunWorkspace ws(dir, comm.rank() == 0);
  AnalyzeOutcome o;
  const auto analyse = [&] { o = analyze_and_report(cfg, ws, opt); };
  if (ws.writes())
    ws.write_set("analyze", {ws.paths().analysis_file, ws.paths().report_index}, analyse);
  else
    analyse();  // the other ranks scan their shares of the probe and write nothing
  if (!ws.writes()) return 0;
  const AnalyzeSummary& s = o.analysis;
  std::printf("analysed %zu epochs of %s (%zu computed now): %s\nreport: %s\n", s.epochs.size(), dir.c_str(),
              s.computed.size(), s.analysis_file.c_str(), o.report.c_str());
  if (s.baseline_projections > 0)
    std::printf("sanity baseline: %lld pictures projected again with epoch %d's weights in %.1f s\n",
                static_cast<long long>(s.baseline_projections), s.epochs.front(), s.baseline_seconds);
  return 0;
}

int cmd_bench(std::vector<std::string> args) {
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::cout << "usage: deconvscope bench --config FILE [--iters N] [--warmup N] [--profile] [--section.key VALUE ...]\n\n"
                 "Times full training steps and evaluation forward passes of the config's network on\n"
                 "random data at train.batch and run.threads; prints one line:\n"
                 "  train_images_per_s=N infer_images_per_s=N\n"
                 "--profile adds a table of milliseconds per step for each layer and direction (stderr).\n"
                 "With --run DIR instead of --config: times the analysis of the run's newest snapshot\n"
                 "(scan, top-k projections of every feature, evolution) against a plain forward pass\n"
                 "over the same probe images.\n\n"
              << config_help();
    return 0;
  }
  BenchOptions opt;
  const std::string iters = take_value(args, "--iters", ""), warmup = take_value(args, "--warmup", "");
  opt.iters = parse_int_in(iters.empty() ? "30" : iters, "--iters", 1, 100000);
  opt.warmup = parse_int_in(warmup.empty() ? "5" : warmup, "--warmup", 0, 100000);
  opt.profile = take_flag(args, "--profile");
  const std::string run = take_value(args, "--run", "");
  if (!run.empty()) {
    if (!iters.empty() || !warmup.empty() || opt.profile)
      throw Error(ErrorKind::usage, "bench --run", "--iters, --warmup and --profile time training, not the analysis",
                  "bench --config FILE takes them");
    const AnalysisBenchResult r = bench_analysis(load_run_config(run, args), run);
    std::printf("analysis of epoch %d over %lld probe images: forward_s=%.2f scan_s=%.2f analysis_s=%.2f "
                "analysis/forward=%.2f\n",
                r.epoch, (long long)r.probe_count, r.forward_s, r.scan_s, r.analysis_s, r.analysis_s / r.forward_s);
    return 0;
  }
  const Config cfg = load_config(args);
  const BenchResult r = run_bench(cfg, opt);
  std::printf("train_images_per_s=%.0f infer_images_per_s=%.0f threads=%d batch=%d\n", r.train_images_per_s,
              r.infer_images_per_s, cfg.run.threads, cfg.train.batch);
  if (opt.profile) std::fprintf(stderr, "%s", r.profile.c_str());
  return 0;
}

// The subcommands, once: dispatch and the nearest-name hint both read this table.
struct Command {
  std::string name;
  const char* spelling;  // another accepted spelling (the tool itself says "analysed"), or nullptr
  std::function<int(std::vector<std::string>)> run;
};

const std::vector<Command>& commands() {
  static const std::vector<Command> table = [] {
    std::vector<Command> t = {{"train", nullptr, cmd_train}, {"analyze", "analyse", cmd_analyze}, {"health", nullptr, cmd_health}};
    for (const AnalysisCommand* a : analyses())
      t.push_back({a->command, nullptr, [a](std::vector<std::string> args) {
                     return run_analysis_command(*a, std::move(args), Comm::world());
                   }});
    t.push_back({"compare", nullptr, cmd_compare});
    t.push_back({"bench", nullptr, cmd_bench});
    return t;
  }();
  return table;
}

}  // namespace

int cli_run(const std::vector<std::string>& all) {
  try {
    register_analysis_sections();  // before any config is read, --help's key list included
    // Under mpirun rank 0 speaks for the job (core/progress.hpp); alone, no MPI is touched.
    if (Comm::launched_by_mpirun()) set_speaks_for_job(Comm::world().rank() == 0);
    if (all.empty() || all[0] == "--help" || all[0] == "-h" || all[0] == "help") {
      std::cout << usage();
      return all.empty() ? 2 : 0;
    }
    if (all[0] == "--version" || all[0] == "version") {
      std::cout << "deconvscope " << DECONVSCOPE_VERSION << "\n";
      return 0;
    }
    Comm::check_launch();  // a build without MPI refuses mpirun before a command reads anything
    const std::string cmd = all[0];
    std::vector<std::string> args(all.begin() + 1, all.end());
    for (const Command& c : commands())
      if (cmd == c.name || (c.spelling && cmd == c.spelling)) return c.run(args);
    std::vector<std::string> names;
    for (const Command& c : commands()) names.push_back(c.name);
    const std::string near = nearest_word(cmd, names);
    // "command line", not "deconvscope": the error line already starts with the program's name.
    throw Error(ErrorKind::usage, "command line", "unknown command '" + cmd + "'",
                (near.empty() ? std::string() : "did you mean " + near + "? ") +
                    "deconvscope --help lists the commands");
  } catch (const Error& e) {
    std::fprintf(stderr, "deconvscope: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    // Not one of our typed errors (std::bad_alloc, a library's exception): a bug to report.
    std::fprintf(stderr, "deconvscope: internal error: %s\n", e.what());
    return exit_code_of(ErrorKind::internal);
  }
}

int cli_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return cli_run(args);
}

}  // namespace ds
