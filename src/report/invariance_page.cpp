// See include/deconvscope/report/invariance_page.hpp. The transformed images are shown
// from the stored inputs, un-normalised with the stored mean and std, so the page needs
// nothing but the InvarianceResult.
#include "deconvscope/report/invariance_page.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include <opencv2/imgproc.hpp>

#include "deconvscope/core/error.hpp"
#include "deconvscope/core/number_text.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/text_file.hpp"
#include "deconvscope/report/data_uri.hpp"
#include "deconvscope/report/html_escape.hpp"
#include "deconvscope/report/pages.hpp"
#include "deconvscope/report/plot.hpp"
#include "draw.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

constexpr int kExamples = 5;            // transformed images shown per transformation
constexpr int kExampleSide = 56;        // their side on the page, at least
const cv::Size kPlotSize{430, 260};     // each Fig. 5 panel

std::string value_text(double v) { return format_number("%g", v); }

// One image (C, H, W) in network-input units back to 8-bit pixels: x * std + mean, in
// [0, 1] as the normalisation was computed on pixel / 255. RGB planes become BGR.
cv::Mat input_picture(const float* x, const InvarianceResult& r) {
  const int C = r.input.channels, H = r.input.height, W = r.input.width;
  const size_t plane = size_t(H) * size_t(W);
  auto pixel = [&](int c, size_t i) {
    const double v = (double(x[size_t(c) * plane + i]) * r.input_std[size_t(c)] + r.input_mean[size_t(c)]) * 255.0;
    return cv::saturate_cast<uint8_t>(std::lround(v));
  };
  cv::Mat out(H, W, C == 3 ? CV_8UC3 : CV_8UC1);
  for (int y = 0; y < H; ++y)
    for (int xx = 0; xx < W; ++xx) {
      const size_t i = size_t(y) * size_t(W) + size_t(xx);
      if (C == 3) {
        out.at<cv::Vec3b>(y, xx) = cv::Vec3b(pixel(2, i), pixel(1, i), pixel(0, i));
      } else {
        int sum = 0;
        for (int c = 0; c < C; ++c) sum += pixel(c, i);
        out.at<uint8_t>(y, xx) = uint8_t((sum + C / 2) / C);
      }
    }
  return out;
}

// The first image's transformed versions at up to kExamples values spread over the sweep.
cv::Mat example_strip(const InvarianceResult& r, const InvarianceSweep& s) {
  const size_t S = s.values.size(), n = std::min<size_t>(S, kExamples);
  const int H = r.input.height, W = r.input.width;
  const int factor = std::max(1, (kExampleSide + std::max(H, W) - 1) / std::max(H, W));
  const cv::Size tile(W * factor, H * factor);
  const int gap = 6, label = 18;
  const int width = std::max(int(n) * (tile.width + gap) + gap,
                              draw::text_size(transform_axis(s.transform), draw::kTextScale).width + 2 * gap);
  cv::Mat canvas(tile.height + label + 2 * gap + 16, width, CV_8UC3, draw::kWhite);
  draw::text(canvas, transform_axis(s.transform), {gap, 14}, draw::kTextScale, draw::kInk);
  for (size_t j = 0; j < n; ++j) {
    const size_t k = n == 1 ? 0 : j * (S - 1) / (n - 1);
    cv::Mat pic = input_picture(s.inputs.data() + k * r.image_size(), r), big;
    cv::resize(pic, big, tile, 0, 0, cv::INTER_NEAREST);
    const int x = gap + int(j) * (tile.width + gap);
    draw::paste(canvas, big, {x, 16 + gap});
    draw::text_centered(canvas, value_text(s.values[k]), x + tile.width / 2, 16 + gap + tile.height + label - 4);
  }
  return canvas;
}

// A Fig. 5 panel: one line per image of `values` [E, I, S] at slot e against the sweep.
cv::Mat sweep_plot(const InvarianceResult& r, const InvarianceSweep& s, const std::vector<float>& values, size_t e,
                   const std::string& title, const std::string& y_label, bool probability) {
  PlotSpec spec;
  spec.title = title;
  spec.x_label = transform_axis(s.transform);
  spec.y_label = y_label;
  spec.size = kPlotSize;
  spec.integer_x = s.transform != Transform::scale;
  if (probability) spec.y_min = 0, spec.y_max = 1;
  const size_t I = r.images.size();
  for (size_t i = 0; i < I; ++i) {
    PlotSeries line;
    line.label = r.split + " " + std::to_string(r.images[i]);
    line.color = plot_color(i);
    line.markers = s.values.size() <= 30;
    for (size_t k = 0; k < s.values.size(); ++k) {
      line.x.push_back(s.values[k]);
      line.y.push_back(values[s.at(e, i, k, I)]);
    }
    spec.series.push_back(std::move(line));
  }
  spec.legend_outside = false;  // a corner when one is empty, else plot_lines puts it beside
  return plot_lines(spec);
}

void figure(std::ostringstream& p, const cv::Mat& picture, const std::string& alt) {
  p << "<td><img style=\"max-width: 100%; height: auto\" src=\"" << png_data_uri(picture) << "\" alt=\""
    << html_escape(alt) << "\"></td>";
}

std::string class_name(const InvarianceResult& r, int32_t c) {
  if (c >= 0 && size_t(c) < r.class_names.size()) return r.class_names[size_t(c)];
  return "class " + std::to_string(c);
}

}  // namespace

std::vector<size_t> invariance_shown_epochs(size_t epochs, size_t most) {
  std::vector<size_t> out;
  if (epochs <= most) {
    for (size_t e = 0; e < epochs; ++e) out.push_back(e);
    return out;
  }
  if (most < 2) return {epochs - 1};  // the last: the trained network
  for (size_t j = 0; j < most; ++j) out.push_back(j * (epochs - 1) / (most - 1));
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

cv::Mat invariance_over_epochs(const InvarianceResult& r, const std::string& title, cv::Size size) {
  PlotSpec spec;
  spec.title = title;
  spec.x_label = "epoch";
  spec.y_label = "mean |f(Tx) - f(x)| / |f(x)|";
  spec.size = size;
  spec.legend_outside = true;
  for (size_t l = 0; l < r.layers.size(); ++l)
    for (size_t t = 0; t < r.sweeps.size(); ++t) {
      const InvarianceSweep& s = r.sweeps[t];
      PlotSeries line;
      line.label = r.layers[l] + " " + s.name();
      line.color = plot_color(t);
      line.dashed = l > 0;  // one dash style per layer, one colour per transformation
      for (size_t e = 0; e < r.epochs.size(); ++e) {
        line.x.push_back(r.epochs[e]);
        line.y.push_back(invariance_summary(s, int(l), e, r.images.size()));
      }
      spec.series.push_back(std::move(line));
    }
  return plot_lines(spec);
}

void write_invariance_page(const std::string& run_dir, const InvarianceResult& r) {
  const RunPaths paths = RunPaths::of(run_dir);
  std::error_code ec;
  fs::create_directories(paths.report, ec);
  if (ec) throw Error(ErrorKind::io, paths.report, "cannot create folder: " + ec.message(), "check permissions");
  const size_t I = r.images.size();
  std::ostringstream p;
  p << page_begin(paths, "Invariance",
                  "How the features react when an image is translated, scaled and rotated, after Zeiler &amp; Fergus "
                  "Fig. 5, at every snapshot. Distances are |f(Tx) &minus; f(x)| / |f(x)| of a layer's rectified "
                  "output; the figures are also in analysis/invariance.h5 (docs/invariance-format.md) and "
                  "analysis/invariance.csv.");
  const std::vector<size_t> shown = invariance_shown_epochs(r.epochs.size());
  p << "<a href=\"#epochs\">Across training</a>";
  for (size_t e : shown) p << "<a href=\"#epoch-" << r.epochs[e] << "\">Epoch " << r.epochs[e] << "</a>";
  p << "</nav>\n";

  p << "<p class=\"note\">Images: ";
  for (size_t i = 0; i < I; ++i)
    p << (i ? ", " : "") << html_escape(r.split) << " " << r.images[i] << " (" << html_escape(class_name(r, r.labels[i]))
      << ")";
  p << ". Layers: ";
  for (size_t l = 0; l < r.layers.size(); ++l)
    p << (l ? ", " : "") << html_escape(r.layers[l])
      << (r.outputs[l] != r.layers[l] ? " (after " + html_escape(r.outputs[l]) + ")" : std::string());
  p << ". Pixels from outside the image are the dataset mean.</p>\n";

  p << "<h2 id=\"epochs\">Across training</h2>\n<p><img src=\""
    << png_data_uri(invariance_over_epochs(r, "Mean distance over the sweep", {900, 420}))
    << "\" alt=\"mean distance per layer and transformation against the epoch\"></p>\n"
    << "<p class=\"hint\">Per layer (solid: " << html_escape(r.layers.front())
    << (r.layers.size() > 1 ? ", dashed: the others" : "")
    << ") and transformation, the mean over the images and the sweep values of the relative distance |f(Tx) - "
       "f(x)| / |f(x)| (0 = unmoved). Rising lines: the transformation moves the layer's output further as it "
       "learns, so the layer grows <em>less</em> invariant; falling lines: more invariant. The paper finds the top "
       "layers far less moved than the first.</p>\n";
  // The same as numbers, with the mean true-class probability.
  p << "<div class=\"scroll\"><table>\n<tr><th>epoch</th>";
  for (const InvarianceSweep& s : r.sweeps) {
    for (const std::string& l : r.layers) p << "<th>" << s.name() << "<br><small>" << html_escape(l) << "</small></th>";
    p << "<th>" << s.name() << "<br><small>p(true)</small></th>";
  }
  p << "</tr>\n";
  for (size_t e = 0; e < r.epochs.size(); ++e) {
    p << "<tr><td>" << r.epochs[e] << "</td>";
    for (const InvarianceSweep& s : r.sweeps)
      for (int l = 0; l <= int(r.layers.size()); ++l) {
        const double v = invariance_summary(s, l < int(r.layers.size()) ? l : -1, e, I);
        p << (std::isfinite(v) ? "<td class=\"num\">" + format_number("%.3f", v) + "</td>"
                               : "<td class=\"none\">&ndash;</td>");
      }
    p << "</tr>\n";
  }
  p << "</table></div>\n";

  for (size_t e : shown) {
    // The row's pictures shrink to the window (fixed layout, images at most their cell's
    // width), so the page never scrolls sideways however many layers are compared.
    p << "<h2 id=\"epoch-" << r.epochs[e] << "\">Epoch " << r.epochs[e]
      << "</h2>\n<table style=\"table-layout: fixed; width: 100%\">\n";
    for (const InvarianceSweep& s : r.sweeps) {
      p << "<tr>";
      figure(p, example_strip(r, s), std::string(s.name()) + " examples");
      for (size_t l = 0; l < r.layers.size(); ++l)
        figure(p, sweep_plot(r, s, s.distance[l], e, r.layers[l], "distance", false),
               std::string(s.name()) + " distance at " + r.layers[l]);
      figure(p, sweep_plot(r, s, s.probability, e, "true class", "probability", true),
             std::string(s.name()) + " true-class probability");
      p << "</tr>\n";
    }
    p << "</table>\n";
  }
  if (shown.size() < r.epochs.size())
    p << "<p class=\"hint\">Fig. 5 is shown for " << shown.size() << " of the " << r.epochs.size()
      << " measured snapshots; every snapshot's numbers are in analysis/invariance.csv.</p>\n";
  p << page_end("invariance");
  write_text_atomic(paths.in_report(kInvariancePage), p.str());
}

std::string invariance_compare_section(const std::vector<std::string>& run_dirs, const std::vector<std::string>& labels,
                                       std::vector<std::string>* notes) {
  bool any = false;
  for (const std::string& dir : run_dirs) any = any || fs::exists(RunPaths::of(dir).in_analysis(kInvarianceFile));
  if (!any) return "";  // nobody measured it: no section, and no note per run
  std::ostringstream p;
  p << "<div class=\"row\">\n";
  for (size_t k = 0; k < run_dirs.size(); ++k) {
    const std::string label = k < labels.size() ? labels[k] : run_title(run_dirs[k]);
    const std::string file = RunPaths::of(run_dirs[k]).in_analysis(kInvarianceFile);
    std::string problem;
    if (!fs::exists(file)) {
      problem = label + ": no analysis/invariance.h5 (run deconvscope invariance --run " + run_dirs[k] + ")";
    } else {
      try {
        const InvarianceResult r = read_invariance(file);
        p << "<figure><img src=\"" << png_data_uri(invariance_over_epochs(r, label, {560, 360})) << "\" alt=\""
          << html_escape(label) << " invariance\"><figcaption>" << html_escape(label) << ": " << r.images.size() << " "
          << html_escape(r.split) << " images</figcaption></figure>\n";
      } catch (const Error& e) {
        problem = label + ": analysis/invariance.h5 not shown: " + e.what();
      }
    }
    if (!problem.empty()) {
      p << "<p class=\"note\">" << html_escape(problem) << "</p>\n";
      if (notes) notes->push_back(problem);
    }
  }
  p << "</div>\n";
  return p.str();
}

}  // namespace ds
