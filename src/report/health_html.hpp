// Pieces shared by the health page and the comparison page (internal to src/report): the
// style sheet, number formatting, the table of a layer's health figures, and the plot of
// a figure across epochs.
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "deconvscope/analysis/health.hpp"

namespace ds::health_html {


// "12.5%" for a fraction, "n/a" for NaN.
std::string pct(float fraction);
// printf-style number, "n/a" for NaN.
std::string num(const char* format, float v);

// What a raw figure depends on besides health, so that it is judged across runs only
// where that is the same (docs/health-format.md): redundancy on the filters' shape (its
// chance level), stride aliasing on the first layer's stride (its noise floor).
enum class Across { any, filter_shape, stride };

// One figure of LayerEpochSummary: its column title, how to print it, which way is
// healthier, and a one-line definition for the page.
struct Figure {
  const char* key;    // CSV name
  const char* title;  // table header
  int better;         // -1: lower is healthier, +1: higher is, 0: no verdict (descriptive)
  bool percent;       // print as a percentage
  const char* help;
  float (*get)(const LayerEpochSummary&);
  Across across = Across::any;  // judged across runs only where this is the same
  const char* fair = "";        // the figure to look at instead where it is not
};
const std::vector<Figure>& figures();

// A line plot of a figure across epochs: x = epochs, one series per label.
cv::Mat plot_over_epochs(const std::string& title, const std::string& y_label, const std::vector<std::string>& labels,
                         const std::vector<std::vector<int>>& epochs, const std::vector<std::vector<float>>& values,
                         bool percent);

}  // namespace ds::health_html
