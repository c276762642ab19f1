// The plots of a run: training curves from metrics.csv (loss and accuracy vs epoch, train
// and val, side by side), per-layer training health from metrics.csv (gradient RMS,
// update ratio, dead share: a line per layer), and filter convergence from the analysis
// (mean cosine to the final filters vs epoch, a line per layer, the threshold dashed).
#include <algorithm>
#include <cmath>

#include <opencv2/core.hpp>

#include "deconvscope/core/error.hpp"
#include "deconvscope/io/csv.hpp"
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

bool plot_layer_stats(const std::string& metrics_csv, const std::string& png_path) {
  const CsvTable t = read_csv(metrics_csv);
  // Layers in the order of their columns: "<layer>_grad_rms" names a parameter layer.
  const std::string& kGrad = kGradRmsSuffix;
  std::vector<std::string> layers;
  for (const auto& h : t.header)
    if (h.size() > kGrad.size() && h.compare(h.size() - kGrad.size(), kGrad.size(), kGrad) == 0)
      layers.push_back(h.substr(0, h.size() - kGrad.size()));
  if (layers.empty()) return false;
  const std::vector<double> epoch = csv_column(t, metrics_csv, "epoch");

  // Gradients and update ratios span decades between layers and epochs: log10, with a
  // zero (epoch 0 has no update) left as a gap rather than drawn at -infinity.
  auto log10_of = [](std::vector<double> v) {
    for (double& x : v) x = x > 0 ? std::log10(x) : NAN;
    return v;
  };
  PlotSpec grad;
  grad.title = "Gradient RMS";
  grad.x_label = "epoch";
  grad.y_label = "log10 gradient RMS";
  grad.size = cv::Size(492, 330);
  grad.legend_outside = true;  // a line per layer: the corner would cover data
  PlotSpec update = grad, dead = grad;
  update.title = "Update / weight RMS";
  update.y_label = "log10 update ratio";
  dead.title = "Dead feature maps";
  dead.y_label = "dead (%)";
  dead.y_min = 0;
  double dead_max = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    const std::string& name = layers[l];
    grad.series.push_back({name, epoch, log10_of(csv_column(t, metrics_csv, name + kGradRmsSuffix)), plot_color(l)});
    if (t.column(name + kUpdateRatioSuffix) >= 0)
      update.series.push_back(
          {name, epoch, log10_of(csv_column(t, metrics_csv, name + kUpdateRatioSuffix)), plot_color(l)});
    if (t.column(name + kDeadFractionSuffix) >= 0) {
      std::vector<double> v = csv_column(t, metrics_csv, name + kDeadFractionSuffix);
      for (double& x : v) {
        x *= 100;
        if (std::isfinite(x)) dead_max = std::max(dead_max, x);
      }
      dead.series.push_back({name, epoch, v, plot_color(l)});
    }
  }
  // Nothing dead: a 0..10 % axis shows the flat zero line plainly, not an axis around it.
  if (dead_max <= 0) dead.y_max = 10;
  cv::Mat row;
  cv::hconcat(std::vector<cv::Mat>{plot_lines(grad), plot_lines(update), plot_lines(dead)}, row);
  write_png(row, png_path);
  return true;
}

void plot_convergence(const AnalysisResult& r, const std::string& png_path) {
  // Two panels, the weights seen two ways; no threshold and no "converged at": how
  // little a layer's weights moved is not when its representation settled (the
  // Convergence headline answers that from CKA and the probes).
  std::vector<double> x(r.epochs.begin(), r.epochs.end());
  PlotSpec cosine, progress;
  cosine.title = "Filter similarity to the final snapshot";
  cosine.y_label = "mean cosine";
  progress.title = "Weight progress";
  progress.y_label = "1 - |W - W_final| / |W_first - W_final|";
  for (PlotSpec* p : {&cosine, &progress}) {
    p->x_label = "epoch";
    p->size = cv::Size(560, 380);
    p->y_max = 1.0;            // both are 1 at the final snapshot
    p->legend_outside = true;  // one line per layer: too many for a corner
  }
  for (size_t l = 0; l < r.layers.size() && l < r.convergence.size(); ++l) {
    const LayerConvergence& c = r.convergence[l];
    if (c.filter_similarity.size() != x.size() || c.weight_progress.size() != x.size())
      throw Error(ErrorKind::snapshot, "analysis: layer " + r.layers[l] + ": convergence",
                  expected_found(std::to_string(x.size()) + " similarities and progress values (one per epoch)",
                                 std::to_string(c.filter_similarity.size()) + " and " +
                                     std::to_string(c.weight_progress.size())),
                  "re-run the analysis");
    cosine.series.push_back(
        {r.layers[l], x, std::vector<double>(c.filter_similarity.begin(), c.filter_similarity.end()), plot_color(l)});
    progress.series.push_back(
        {r.layers[l], x, std::vector<double>(c.weight_progress.begin(), c.weight_progress.end()), plot_color(l)});
  }
  cv::Mat row;
  cv::hconcat(std::vector<cv::Mat>{plot_lines(cosine), plot_lines(progress)}, row);
  write_png(row, png_path);
}

}  // namespace ds
