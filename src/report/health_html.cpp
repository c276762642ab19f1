// Shared pieces of the health and comparison pages; see health_html.hpp.
#include "health_html.hpp"

#include <cmath>

#include "deconvscope/core/number_text.hpp"
#include "deconvscope/report/plot.hpp"

namespace ds::health_html {

std::string num(const char* format, float v) {
  if (!std::isfinite(v)) return "n/a";
  return format_number(format, v);
}

std::string pct(float f) { return num("%.1f%%", 100.f * f); }

const std::vector<Figure>& figures() {
  static const std::vector<Figure> all = {
      {"dead_fraction", "dead", -1, true,
       "never fires on the probe images, or weights collapsed (RMS below collapsed_ratio x the layer's median)",
       [](const LayerEpochSummary& s) { return s.dead; }},
      {"never_fires_fraction", "never fires", -1, true, "ReLU output zero on every probe image and position",
       [](const LayerEpochSummary& s) { return s.never_fires; }},
      {"collapsed_fraction", "collapsed", -1, true, "RMS below collapsed_ratio x the layer's median RMS (or zero)",
       [](const LayerEpochSummary& s) { return s.collapsed; }},
      {"dominating_fraction", "dominating", -1, true, "RMS above dominating_ratio x the layer's median RMS (Fig. 6a)",
       [](const LayerEpochSummary& s) { return s.dominating; }},
      {"max_rms_ratio", "max RMS / median", -1, false, "the strongest filter's RMS over the layer's median RMS",
       [](const LayerEpochSummary& s) { return s.max_rms_ratio; }},
      {"mean_max_correlation", "mean max |cos|", -1, false,
       "mean over filters of the largest |cosine| with another filter of the layer",
       [](const LayerEpochSummary& s) { return s.mean_max_correlation; }, Across::filter_shape,
       "max |cos| above chance"},
      {"chance_correlation", "max |cos| by chance", 0, false,
       "mean max |cosine| of as many random Gaussian filters of the same size: the floor of the figure above",
       [](const LayerEpochSummary& s) { return s.chance_correlation; }},
      {"correlation_above_chance", "max |cos| above chance", -1, false,
       "mean max |cosine| minus its chance level: redundancy comparable across kernel sizes",
       [](const LayerEpochSummary& s) { return s.mean_max_correlation - s.chance_correlation; }},
      {"redundant_fraction", "redundant", -1, true,
       "filters with a near-copy: max |cosine| at or above redundant_correlation",
       [](const LayerEpochSummary& s) { return s.redundant; }},
      {"low_share", "low freq", 0, true,
       "first layer: mean share of spectral energy below low_band x Nyquist (live filters)",
       [](const LayerEpochSummary& s) { return s.low; }},
      {"mid_share", "mid freq", +1, true, "first layer: mean share of spectral energy in the mid band (live filters)",
       [](const LayerEpochSummary& s) { return s.mid; }},
      {"high_share", "high freq", 0, true,
       "first layer: mean share of spectral energy above mid_band x Nyquist (live filters)",
       [](const LayerEpochSummary& s) { return s.high; }},
      {"mid_coverage", "mid coverage", +1, true,
       "first layer: share of live filters whose spectral peak is in the mid band",
       [](const LayerEpochSummary& s) { return s.mid_coverage; }},
      {"aliasing", "stride aliasing", -1, true,
       "second layer: mean share of a projection's energy periodic with the first layer's stride",
       [](const LayerEpochSummary& s) { return s.aliasing; }, Across::stride, "aliasing above noise"},
      {"aliasing_noise", "aliasing noise floor", 0, true,
       "what white noise in the same receptive-field windows would give for the stride aliasing figure",
       [](const LayerEpochSummary& s) { return s.aliasing_noise; }},
      {"aliasing_excess", "aliasing above noise", -1, true,
       "stride aliasing minus its noise floor: comparable across first-layer strides",
       [](const LayerEpochSummary& s) { return s.aliasing - s.aliasing_noise; }},
  };
  return all;
}

cv::Mat plot_over_epochs(const std::string& title, const std::string& y_label, const std::vector<std::string>& labels,
                         const std::vector<std::vector<int>>& epochs, const std::vector<std::vector<float>>& values,
                         bool percent) {
  PlotSpec spec;
  spec.title = title;
  spec.x_label = "epoch";
  spec.y_label = percent ? y_label + " (%)" : y_label;
  spec.size = cv::Size(560, 360);
  // Right of the axes, never over the lines (a corner can hold data).
  spec.legend_outside = labels.size() > 1;
  for (size_t i = 0; i < labels.size() && i < epochs.size() && i < values.size(); ++i) {
    PlotSeries s;
    s.label = labels[i];
    s.color = plot_color(i);
    for (size_t e = 0; e < epochs[i].size() && e < values[i].size(); ++e) {
      s.x.push_back(epochs[i][e]);
      s.y.push_back(percent ? 100.0 * values[i][e] : double(values[i][e]));
    }
    spec.series.push_back(std::move(s));
  }
  return plot_lines(spec);
}

}  // namespace ds::health_html
