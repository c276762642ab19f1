// The registry of the further analyses (those beside the deconvnet's own): each declares
// once its config section, its command and help, its output files, whether `analyze`
// runs it, one step that computes, writes and summarises, its report page and its part
// of `compare`.
// The dispatcher, the top-level usage and train's check of their keys (cli/commands.cpp),
// analyze's in_analyze loop, the report's page list and compare's cells (cli/pipelines.cpp)
// iterate analyses(); each step's write set is named by its command and outputs. A new
// analysis is its own files plus its line in analyses() (cli/analyses.cpp;
// docs/architecture.md, "Adding an analysis").
// The deconvnet analysis (`analyze`) and health keep their own commands: analyze runs the
// others, and health's flags and compare's reuse of it are its own.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "deconvscope/analysis/convergence_measure.hpp"
#include "deconvscope/analysis/run.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/core/comm.hpp"
#include "deconvscope/io/run_workspace.hpp"
#include "deconvscope/report/compare.hpp"
#include "deconvscope/report/pages.hpp"

namespace ds {

struct AnalysisCommand;

// One run of an analysis' step: standalone (its command) or inside `analyze`.
struct AnalysisCall {
  const AnalysisCommand& analysis;
  const Run& run;
  const RunWorkspace& ws;
  bool quiet = false;        // no progress bars (analyze during training)
  std::string command_line;  // what asked, for the page: "<command> --run DIR", "analyze --run DIR"
  bool summary = false;      // print the command's summary to stdout (its own command, the job's writer)

  // Writes the analysis' outputs as one write set (RunWorkspace::write_set under the
  // command's name, analysis/ and report/ created first), its page among them, then links
  // the page from report/index.html when that exists. On a non-writer: nothing.
  void write(const std::function<void()>& files) const;
};

struct AnalysisCommand {
  const char* section;  // its config section, [a_b]: its keys are --a_b.key
  const char* command;  // its subcommand, a-b
  const char* usage;    // its lines in `deconvscope --help` ("  name --run DIR ...\n    what\n")
  const char* help;     // `deconvscope <command> --help`
  bool help_lists_keys;  // the help ends with every config key (config_help)
  // Flags short for a key of its section: {"--images", "images"} is --<section>.images.
  std::vector<std::pair<const char*, const char*>> shorthands;
  const char* example;  // the hint when --run is missing
  const char* purpose;  // what Run::open says it cannot do without snapshots ("no snapshots to <purpose>")
  bool (*in_analyze)(const Config&);  // <section>.in_analyze: analyze runs it before the report
  // What `train` refuses before the first epoch (keys only the analysis reads), or null.
  void (*check_before_training)(const Config&);
  // Its files (full paths, from RunPaths): the write-set marker names them when a set is mixed.
  std::vector<std::string> (*outputs)(const RunPaths&);
  // Computes, writes (call.write) and, when call.summary, prints what it found.
  void (*step)(const AnalysisCall& call);
  // Its page in report/ (a file its step writes) and the page's link text in index.html.
  ReportPage page;
  // What `compare` shows of it (Place::none: nothing).
  CompareCell compare;
  // Its measure of when each layer settles, read from the run's files (columns of
  // convergence.csv and of the report's Convergence headline), or null: it has none.
  ConvergenceMeasure (*convergence)(const RunPaths& paths, const Config& cfg);
};

// Every registered analysis, in the order analyze runs them and --help lists them.
const std::vector<const AnalysisCommand*>& analyses();

// The pages of a run's report beside index.html, in navigation order: health's, then each
// analysis' (registry order). What index.html links (ReportContext::pages).
std::vector<ReportPage> report_pages();

// What `compare` shows of the analyses, in registry order (compare_runs).
std::vector<CompareCell> compare_cells();

// Registers every analysis' config section and keys (config/config_section.hpp), each
// declared in its own analysis/<name>.cpp. Called first by cli_run, so that every config
// the command line reads (a file, the overrides, a run's config.cfg, a snapshot's) knows
// their keys; and by tests of lower stages that read them. A second call does nothing.
void register_analysis_sections();

// `deconvscope <analysis.command> --run DIR [...]`: flags, the run's config, the
// workspace (comm says whether this process writes), the step. Returns the exit code.
int run_analysis_command(const AnalysisCommand& analysis, std::vector<std::string> args, Comm& comm);

// The analyses the run's config asks `analyze` to run (in_analyze), each as a step of it.
void run_analyses_in_analyze(const Run& run, const RunWorkspace& ws, bool quiet);

}  // namespace ds
