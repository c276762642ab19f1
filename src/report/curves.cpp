// The two plots of a run: training curves from metrics.csv (loss and accuracy vs epoch,
// train and val, side by side) and filter convergence from the analysis (mean cosine to
// the final filters vs epoch, a line per layer, the threshold dashed).
#include <cmath>

#include <opencv2/core.hpp>

#include "deconvscope/core/error.hpp"
#include "deconvscope/report/csv.hpp"
#include "deconvscope/report/plot.hpp"
#include "deconvscope/report/png.hpp"
#include "deconvscope/report/render.hpp"

namespace ds {

namespace {

std::vector<double> csv_column(const CsvTable& t, const std::string& path, const std::string& name) {
  const int c = t.column(name);
  if (c < 0)
    throw Error(ErrorKind::data, path, "column " + name + " " + expected_found("in the header", "none"),
                "is this a deconvscope metrics.csv?");
  std::vector<double> v;
  v.reserve(t.rows.size());
  for (size_t r = 0; r < t.rows.size(); ++r)
    v.push_back(csv_number(t.rows[r][c], path + ": data row " + std::to_string(r + 1) + ", column " + name));
  return v;
}

}  // namespace

void plot_training_curves(const std::string& metrics_csv, const std::string& png_path) {
  const CsvTable t = read_csv(metrics_csv);
  const std::vector<double> epoch = csv_column(t, metrics_csv, "epoch");
  std::vector<double> train_acc = csv_column(t, metrics_csv, "train_accuracy");
  std::vector<double> val_acc = csv_column(t, metrics_csv, "val_accuracy");
  // The trainer writes fractions; percent reads better.
  bool fractions = true;
  for (double v : train_acc) fractions = fractions && !(std::fabs(v) > 1.0);
  for (double v : val_acc) fractions = fractions && !(std::fabs(v) > 1.0);
  if (fractions) {
    for (double& v : train_acc) v *= 100;
    for (double& v : val_acc) v *= 100;
  }

  PlotSpec loss;
  loss.title = "Loss";
  loss.x_label = "epoch";
  loss.y_label = "cross-entropy";
  loss.size = cv::Size(560, 380);
  loss.series = {{"train", epoch, csv_column(t, metrics_csv, "train_loss"), plot_color(0)},
                 {"val", epoch, csv_column(t, metrics_csv, "val_loss"), plot_color(1)}};
  PlotSpec acc = loss;
  acc.title = "Accuracy";
  acc.y_label = fractions ? "accuracy (%)" : "accuracy";
  acc.series = {{"train", epoch, train_acc, plot_color(0)}, {"val", epoch, val_acc, plot_color(1)}};
  cv::Mat both;
  cv::hconcat(plot_lines(loss), plot_lines(acc), both);
  write_png(both, png_path);
}

void plot_convergence(const AnalysisResult& r, const std::string& png_path) {
  std::vector<double> x(r.epochs.begin(), r.epochs.end());
  PlotSpec p;
  p.title = "Filter similarity to the final snapshot";
  p.x_label = "epoch";
  p.y_label = "mean cosine";
  p.size = cv::Size(860, 400);
  p.y_max = 1.0;            // a cosine
  p.legend_outside = true;  // one line per layer: too many for a corner
  for (size_t l = 0; l < r.layers.size() && l < r.convergence.size(); ++l) {
    const LayerConvergence& c = r.convergence[l];
    if (c.filter_similarity.size() != x.size())
      throw Error(ErrorKind::snapshot, "analysis: layer " + r.layers[l] + ": convergence",
                  expected_found(std::to_string(x.size()) + " similarities (one per epoch)",
                                 std::to_string(c.filter_similarity.size())),
                  "re-run the analysis");
    std::string label = r.layers[l] + (c.converged_at >= 0 ? "  (converged at " + std::to_string(c.converged_at) + ")"
                                                           : "  (not converged)");
    p.series.push_back(
        {label, x, std::vector<double>(c.filter_similarity.begin(), c.filter_similarity.end()), plot_color(l)});
  }
  if (!x.empty()) {
    char label[64];
    std::snprintf(label, sizeof label, "threshold %.2f", r.convergence_threshold);
    PlotSeries th{
        label, {x.front(), x.back()}, {r.convergence_threshold, r.convergence_threshold}, cv::Scalar(120, 120, 120)};
    th.dashed = true;
    th.markers = false;
    p.series.push_back(th);
  }
  write_png(plot_lines(p), png_path);
}

}  // namespace ds
