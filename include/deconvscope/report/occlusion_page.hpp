// A run's occlusion page, <run_dir>/report/occlusion.html: the paper's Fig. 7 columns for
// each occluded image at the last occluded snapshot (image, the followed feature map's
// total activation, the deconvnet projection of its strongest activation, the true-class
// probability, the most probable class with a legend of class names), the same at every
// earlier snapshot folded away, and a strip across snapshots showing the probability map
// settle during training. One self-contained file (pictures are data URIs); its command
// links it from the run's index.html (cli/analyses.hpp).
#pragma once

#include <string>

#include <opencv2/core.hpp>

#include "deconvscope/analysis/occlusion.hpp"
#include "deconvscope/data/dataset.hpp"

namespace ds {

// A map (rows, cols) as a colour picture (BGR) of `tile`: values from lo (dark purple) to
// hi (yellow) on the viridis scale, clipped, each cell a block (nearest neighbour).
cv::Mat occlusion_heatmap(const float* map, int rows, int cols, float lo, float hi, cv::Size tile);

// Class `c`'s colour in the most-probable-class map (BGR; 20 distinct colours, repeating).
cv::Scalar occlusion_class_color(int c);

// Writes report/occlusion.html for r. images: the split r.images index into (for the
// pictures and the class names); command: the footer's command line. Throws ds::Error(io).
void write_occlusion_page(const std::string& run_dir, const OcclusionResult& r, const Dataset& images,
                          const std::string& command);

}  // namespace ds
