// Shared pieces of the health and comparison pages; see health_html.hpp.
#include "health_html.hpp"

#include <cmath>
#include <cstdio>

#include "deconvscope/report/plot.hpp"

namespace ds::health_html {

const char* kCss = R"(
body { font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #222; background: #f6f7f9; margin: 0; }
main { max-width: 1540px; margin: 0 auto; padding: 8px 28px 48px; background: #fff;
       box-shadow: 0 0 12px rgba(0,0,0,.06); }
h1 { font-size: 26px; margin: 20px 0 2px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #e3e6ea; }
h3 { font-size: 16px; margin: 22px 0 8px; color: #333; }
p.sub { margin: 0 0 12px; color: #666; }
nav { margin: 14px 0 4px; padding: 8px 12px; background: #f1f3f6; border-radius: 6px; font-size: 14px; }
nav a { margin-right: 14px; color: #1f5fa8; text-decoration: none; }
.note { color: #6b5500; background: #fff8e1; border-left: 4px solid #f0c040; padding: 8px 12px; }
.hint { color: #666; font-size: 14px; margin: 4px 0 10px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13.5px; }
th, td { padding: 4px 10px; border: 1px solid #e1e4e8; text-align: left; white-space: nowrap; }
th { background: #f1f3f6; font-weight: 600; }
tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-family: ui-monospace, Menlo, Consolas, monospace; }
td.best { color: #17663a; font-weight: 600; }
td.none { color: #aaa; text-align: center; }
.scroll { overflow-x: auto; max-width: 100%; }
figure { margin: 10px 0 18px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e6e8eb; image-rendering: pixelated; }
figcaption { color: #666; font-size: 13px; margin-top: 3px; }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.row figure { margin: 0; }
ul.verdicts li { margin: 3px 0; }
dl dt { font-weight: 600; margin-top: 6px; }
dl dd { margin-left: 18px; color: #444; }
footer { margin-top: 40px; color: #888; font-size: 12px; }
)";

std::string num(const char* format, float v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, double(v));
  return buf;
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
       [](const LayerEpochSummary& s) { return s.mean_max_correlation; }},
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
       [](const LayerEpochSummary& s) { return s.aliasing; }},
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
  spec.legend_outside = labels.size() > 4;
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
