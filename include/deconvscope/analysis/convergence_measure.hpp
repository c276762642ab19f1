// One analysis' share of the answer to "when does each layer settle?": the columns it adds
// to convergence.csv (analysis_file.hpp write_analysis_csv) and to the Convergence
// headline of report/index.html (report/convergence_section.hpp). An analysis that has one
// builds it from the run's files in its own files and names it once in the registry
// (cli/analyses.hpp, AnalysisCommand::convergence); the command line reads them in
// registry order and hands the list to both writers, which name no analysis.
// A measure exists without its analysis' file too: blank CSV cells, and a headline column
// that says how to get it.
// Left out: the deconvnet's own columns (weights, jumps, the sanity baseline), which come
// from analysis.h5 itself.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "deconvscope/io/csv.hpp"

namespace ds {

struct ConvergenceMeasure {
  // --- convergence.csv: a row per analysed layer and epoch --------------------------------
  // Its columns, after the deconvnet's transition counts (inactive) and before
  // init_rank_correlation; the measures' columns follow one another in registry order.
  std::vector<std::string> csv_columns;
  // Appends exactly csv_columns.size() cells for `layer` at `epoch`, blank where it did not
  // measure them. Null: no columns.
  std::function<void(CsvRow& row, const std::string& layer, int epoch)> csv_cells;

  // --- the Convergence headline (HTML, filled by the analysis' page in report/) -----------
  // Its column's place: measures run in ascending headline_order (ties: registry order),
  // before the deconvnet's own columns.
  int headline_order = 0;
  std::string header_html;      // the column's <th> text
  std::string definition_html;  // its sentence under the table: what it measures, or how to get it
  std::function<std::string(const std::string& layer)> cell_html;  // the <td> of a layer's row
  std::vector<std::string> layers;  // the layers it measured: rows after the analysed ones, each once
  // A measure against another last snapshot than the analysis' is noted: "The <stale_what>
  // end at epoch N, the analysis at epoch M: run deconvscope <command> --run DIR again".
  std::vector<int> epochs;  // the snapshots it measured; empty: nothing measured
  std::string stale_what;
  std::string command;
  // Its <figure> under the notes, or null; drawn only when the headline is written.
  std::function<std::string()> figure_html;
  // Its settings as rows of the report's Summary table (key, value; plain text).
  std::vector<std::pair<std::string, std::string>> summary_rows;
};

// The first epoch from which v (per epoch, ascending epochs) stays >= threshold through
// the last epoch; -1 when the last value is below it or not a number. The criterion of
// the measures' "settles at" and "useful at" (similarity and probes alike).
int first_epoch_staying_at_or_above(const std::vector<int>& epochs, const std::vector<float>& v, double threshold);

}  // namespace ds
