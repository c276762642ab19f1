// See include/deconvscope/report/occlusion_page.hpp. The figures are defined in
// docs/occlusion-format.md; this file only draws them. Left out: drawing the square on the
// image (its size and step are in the caption) and any figure that needs the network.
#include "deconvscope/report/occlusion_page.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>

#include <opencv2/imgproc.hpp>

#include "deconvscope/core/error.hpp"
#include "deconvscope/core/number_text.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/text_file.hpp"
#include "deconvscope/report/data_uri.hpp"
#include "deconvscope/report/html_escape.hpp"
#include "deconvscope/report/pages.hpp"
#include "deconvscope/report/render.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

// Small inputs are enlarged by a whole factor to about this side, so map cells stay crisp.
constexpr int kTileSide = 112;
constexpr int kStripSide = 56;  // the cells of the strip across snapshots

cv::Size tile_size(int H, int W, int side) {
  const int f = side / std::max(1, std::max(H, W));
  return f >= 1 ? cv::Size(W * f, H * f) : display_size(H, W, side);
}

std::string class_name(const Dataset& d, int c) {
  if (c >= 0 && size_t(c) < d.class_names.size()) return d.class_names[size_t(c)];
  return "class " + std::to_string(c);
}

std::string hex(const cv::Scalar& bgr) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", int(bgr[2]), int(bgr[1]), int(bgr[0]));
  return buf;
}

std::string img(const cv::Mat& picture, const std::string& alt) {
  return "<img src=\"" + png_data_uri(picture) + "\" alt=\"" + html_escape(alt) + "\" width=\"" +
         std::to_string(picture.cols) + "\" height=\"" + std::to_string(picture.rows) + "\">";
}

cv::Mat class_map(const int32_t* predicted, int rows, int cols, cv::Size tile) {
  cv::Mat small(rows, cols, CV_8UC3);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const cv::Scalar col = occlusion_class_color(predicted[size_t(r) * cols + c]);
      small.at<cv::Vec3b>(r, c) = cv::Vec3b(uchar(col[0]), uchar(col[1]), uchar(col[2]));
    }
  cv::Mat out;
  cv::resize(small, out, tile, 0, 0, cv::INTER_NEAREST);
  return out;
}

cv::Mat colour_bar(cv::Size size) {
  std::vector<float> ramp(size_t(size.width));
  for (int x = 0; x < size.width; ++x) ramp[size_t(x)] = float(x) / float(std::max(1, size.width - 1));
  return occlusion_heatmap(ramp.data(), 1, size.width, 0.f, 1.f, size);
}

// "76%", or "<1%" for a class that wins only a few positions (never "0%" for one that wins any).
std::string share(long count, size_t total) {
  const double pct = 100.0 * double(count) / double(total);
  return pct < 1.0 ? std::string("&lt;1%") : format_number("%.0f%%", pct);
}

// The Fig. 7 row of image i at epoch index e: image, activation, projection, probability, class.
std::string fig7_row(const OcclusionResult& r, const Dataset& d, size_t e, size_t i, cv::Size tile) {
  const size_t I = r.images.size(), P = r.positions(), k = (e * I + i) * P;
  const int label = r.labels[i];
  const int32_t f = r.feature[e * I + i];
  std::ostringstream h;
  h << "<tr><td>";
  cv::Mat picture;
  cv::resize(dataset_image(d, r.images[i]), picture, tile, 0, 0, cv::INTER_NEAREST);
  h << img(picture, "image " + std::to_string(r.images[i])) << "<br><small>" << r.split << " image " << r.images[i]
    << "<br>true: " << html_escape(class_name(d, label)) << "</small></td>";
  // Activation: the map's own lowest to its largest total, so that its shape shows even where
  // the square changes the total by a few percent (an untrained network); the range is written below.
  const float* act = r.activation.data() + k;
  const auto [amin_it, amax_it] = std::minmax_element(act, act + P);
  const float amin = *amin_it, amax = *amax_it;
  h << "<td>";
  if (f < 0) h << "<small>no feature of " << html_escape(r.layer) << " fired</small>";
  else
    h << img(occlusion_heatmap(act, r.grid.rows, r.grid.cols, amin, amax, tile),
             "activation map of feature " + std::to_string(f))
      << "<br><small>feature " << f << ": " << format_number("%.3g", double(amin)) << " (dark) to " << format_number("%.3g", double(amax))
      << " (yellow)</small>";
  h << "</td><td>";
  const float* proj = r.projection.data() + (e * I + i) * r.image_size();
  cv::Mat pp;
  cv::resize(projection_to_image(proj, r.input.channels, r.input.height, r.input.width,
                                 report_layout::kProjectionPercentile),
             pp, tile, 0, 0, cv::INTER_NEAREST);
  h << (f < 0 ? std::string("<small>none</small>") : img(pp, "projection of feature " + std::to_string(f))) << "</td>";
  const float* prob = r.probability.data() + k;
  const float pmin = *std::min_element(prob, prob + P);
  h << "<td>" << img(occlusion_heatmap(prob, r.grid.rows, r.grid.cols, 0.f, 1.f, tile), "true-class probability map")
    << "<br><small>lowest " << format_number("%.2f", double(pmin)) << "</small></td>";
  // The class map and its legend: only the classes that occur, the true one marked.
  const int32_t* pred = r.predicted.data() + k;
  std::set<int32_t> seen(pred, pred + P);
  h << "<td>" << img(class_map(pred, r.grid.rows, r.grid.cols, tile), "most probable class map") << "</td><td><small>";
  for (int32_t c : seen)
    h << "<span style=\"display:inline-block;width:11px;height:11px;margin-right:4px;background:"
      << hex(occlusion_class_color(c)) << "\"></span>" << (c == label ? "<b>" : "") << html_escape(class_name(d, c))
      << (c == label ? "</b> (true)" : "") << " " << share(std::count(pred, pred + P, c), P) << "<br>";
  h << "</small></td></tr>\n";
  return h.str();
}

std::string fig7_table(const OcclusionResult& r, const Dataset& d, size_t e, cv::Size tile) {
  std::ostringstream h;
  h << "<div class=\"scroll\"><table>\n<tr><th>image</th><th>(b) total activation of the strongest feature map of "
    << html_escape(r.layer) << "</th><th>(c) its projection</th><th>(d) probability of the true class</th>"
    << "<th>(e) most probable class</th><th>classes (share of positions)</th></tr>\n";
  for (size_t i = 0; i < r.images.size(); ++i) h << fig7_row(r, d, e, i, tile);
  h << "</table></div>\n";
  return h.str();
}

}  // namespace

cv::Scalar occlusion_class_color(int c) {
  // Tableau's 20 colours (RGB), written as BGR.
  static const int rgb[20][3] = {{31, 119, 180},  {255, 127, 14},  {44, 160, 44},   {214, 39, 40},   {148, 103, 189},
                                 {140, 86, 75},   {227, 119, 194}, {127, 127, 127}, {188, 189, 34},  {23, 190, 207},
                                 {174, 199, 232}, {255, 187, 120}, {152, 223, 138}, {255, 152, 150}, {197, 176, 213},
                                 {196, 156, 148}, {247, 182, 210}, {199, 199, 199}, {219, 219, 141}, {158, 218, 229}};
  if (c < 0) return cv::Scalar(255, 255, 255);
  const int* p = rgb[c % 20];
  return cv::Scalar(p[2], p[1], p[0]);
}

cv::Mat occlusion_heatmap(const float* map, int rows, int cols, float lo, float hi, cv::Size tile) {
  cv::Mat grey(rows, cols, CV_8UC1);
  const float span = hi > lo ? hi - lo : 1.f;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const float v = map[size_t(r) * cols + c];
      const float t = std::isfinite(v) ? std::clamp((v - lo) / span, 0.f, 1.f) : 0.f;
      grey.at<uchar>(r, c) = uchar(std::lround(255.f * t));
    }
  cv::Mat colour, out;
  cv::applyColorMap(grey, colour, cv::COLORMAP_VIRIDIS);
  cv::resize(colour, out, tile, 0, 0, cv::INTER_NEAREST);
  return out;
}

void write_occlusion_page(const std::string& run_dir, const OcclusionResult& r, const Dataset& images,
                          const std::string& command) {
  const RunPaths paths = RunPaths::of(run_dir);
  std::error_code ec;
  fs::create_directories(paths.report, ec);
  if (ec) throw Error(ErrorKind::io, paths.report, "cannot create folder: " + ec.message(), "check permissions");
  const size_t E = r.epochs.size(), I = r.images.size(), P = r.positions();
  if (E == 0 || I == 0) throw Error(ErrorKind::usage, "occlusion page", "no snapshot or no image to show");
  const cv::Size tile = tile_size(r.input.height, r.input.width, kTileSide);
  const cv::Size strip = tile_size(r.input.height, r.input.width, kStripSide);

  std::ostringstream p;
  p << page_begin(paths, "Occlusion",
                  "Where the network looks, after Zeiler &amp; Fergus Fig. 7, at every snapshot: a " +
                      std::to_string(r.size) + "&times;" + std::to_string(r.size) +
                      " square of the dataset mean slid over each image in steps of " + std::to_string(r.stride) +
                      " pixels (" + std::to_string(r.grid.rows) + "&times;" + std::to_string(r.grid.cols) +
                      " positions, overhanging the borders by up to half the square). Definitions in "
                      "docs/occlusion-format.md; the numbers are in analysis/occlusion.h5 and analysis/occlusion.csv.");
  p << "<a href=\"#final\">Last snapshot</a><a href=\"#settling\">Across snapshots</a><a href=\"#earlier\">Earlier "
       "snapshots</a></nav>\n";

  p << "<h2 id=\"final\">Epoch " << r.epochs[E - 1] << "</h2>\n<p class=\"hint\">Each map cell is one position of "
    << "the square (the cell's place in the map is the square's place in the image). (b) is scaled from its own lowest "
    << "value (dark) to its largest (yellow), both written below it; (d) from probability 0 (dark) to 1 (yellow) "
    << img(colour_bar(cv::Size(120, 10)), "colour scale from 0 to 1") << "; in (e) every class has its colour, "
    << "the true class in bold. The followed feature map is the one of " << html_escape(r.layer)
    << " with the largest single value on the unoccluded image; (c) projects that value down to pixels.</p>\n";
  p << fig7_table(r, images, E - 1, tile);

  // The probability map of every image at every snapshot: where the network's evidence
  // for the true class lies, and how it settles.
  p << "<h2 id=\"settling\">The probability map across snapshots</h2>\n<p class=\"hint\">A row per image, a column "
       "per snapshot: the probability of the true class with the square at each position (0 dark, 1 yellow). "
       "Below each map: the probability's lowest value and its value with the square in the middle of the "
       "image.</p>\n<div class=\"scroll\"><table>\n<tr><th>image</th>";
  for (int e : r.epochs) p << "<th>epoch " << e << "</th>";
  p << "</tr>\n";
  const size_t centre = size_t(r.grid.rows / 2) * size_t(r.grid.cols) + size_t(r.grid.cols / 2);
  for (size_t i = 0; i < I; ++i) {
    cv::Mat picture;
    cv::resize(dataset_image(images, r.images[i]), picture, strip, 0, 0, cv::INTER_NEAREST);
    p << "<tr><td>" << img(picture, "image " + std::to_string(r.images[i])) << "<br><small>"
      << html_escape(class_name(images, r.labels[i])) << "</small></td>";
    for (size_t e = 0; e < E; ++e) {
      const float* prob = r.probability.data() + (e * I + i) * P;
      p << "<td>" << img(occlusion_heatmap(prob, r.grid.rows, r.grid.cols, 0.f, 1.f, strip), "probability map")
        << "<br><small>" << format_number("%.2f", double(*std::min_element(prob, prob + P))) << " / "
        << format_number("%.2f", double(prob[centre])) << "</small></td>";
    }
    p << "</tr>\n";
  }
  p << "</table></div>\n";

  p << "<h2 id=\"earlier\">Earlier snapshots</h2>\n";
  if (E == 1) p << "<p class=\"hint\">Only one snapshot was occluded.</p>\n";
  for (size_t e = E - 1; e-- > 0;)
    p << "<details><summary>Epoch " << r.epochs[e] << "</summary>\n" << fig7_table(r, images, e, tile) << "</details>\n";
  p << page_end(command);
  write_text_atomic(paths.in_report(kOcclusionPage), p.str());
}

}  // namespace ds
