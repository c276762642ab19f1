// `deconvscope occlusion`: Zeiler & Fergus Fig. 7 at every snapshot of a run, as a
// registered analysis (cli/analyses.hpp): compute (analysis/occlusion.hpp), write the
// file, the CSV and the page (report/occlusion_page.hpp), print a short summary.
#include <algorithm>
#include <cstdio>

#include "deconvscope/analysis/occlusion.hpp"
#include "deconvscope/analysis/image_selection.hpp"
#include "deconvscope/cli/analyses.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/report/occlusion_page.hpp"

namespace ds {

namespace {

void print_summary(const OcclusionResult& r, const RunPaths& paths) {
  const size_t E = r.epochs.size(), I = r.images.size(), P = r.positions();
  std::printf("occlusion of %zu %s images by a %dx%d square (stride %d, %dx%d positions), layer %s:\n", I,
              r.split.c_str(), r.size, r.size, r.stride, r.grid.rows, r.grid.cols, r.layer.c_str());
  for (size_t e = 0; e < E; ++e) {
    // The lowest true-class probability over positions, averaged over the images.
    double low = 0;
    for (size_t i = 0; i < I; ++i) {
      const float* prob = r.probability.data() + (e * I + i) * P;
      low += double(*std::min_element(prob, prob + P)) / double(I);
    }
    std::printf("  epoch %d: %.2f s (%zu forward passes), mean lowest true-class probability %.3f\n", r.epochs[e],
                r.seconds[e], I * P + I, low);
  }
  std::printf("wrote %s, %s\nreport: %s\n", paths.in_analysis(kOcclusionFile).c_str(),
              paths.in_analysis(kOcclusionCsv).c_str(), paths.in_report(kOcclusionPage).c_str());
}

void occlusion_step(const AnalysisCall& call) {
  OcclusionRequest request;
  request.config = occlusion_config(call.run.config());
  request.quiet = call.quiet;
  const OcclusionResult r = compute_occlusion(call.run, request);
  const RunPaths& paths = call.ws.paths();
  call.write([&] {
    write_occlusion(paths.in_analysis(kOcclusionFile), r);
    write_occlusion_csv(paths.in_analysis(kOcclusionCsv), r);
    // The page shows the images themselves: load the few it needs once more (cheap).
    const int64_t need = *std::max_element(r.images.begin(), r.images.end()) + 1;
    const RunImages images = call.run.images(r.split == "train", need);
    write_occlusion_page(call.run.dir(), r, images.images(), call.command_line);
  });
  if (call.summary) print_summary(r, paths);
}

}  // namespace

const AnalysisCommand& occlusion_analysis() {
  static const AnalysisCommand a{
      "occlusion",
      "occlusion",
      "  occlusion --run DIR [--images test:0-4] [--occlusion.size N --occlusion.stride N]\n"
      "           Fig. 7 at every snapshot: occlusion maps of a few images, analysis/occlusion.h5, report/occlusion.html\n",
      "usage: deconvscope occlusion --run DIR [--images test:0-4] [--epochs all|E,E,...]\n"
      "                             [--occlusion.size N --occlusion.stride N --occlusion.layer L]\n\n"
      "Zeiler & Fergus Fig. 7 at every snapshot of the run in DIR, with its own config (DIR/config.cfg):\n"
      "a square of the dataset mean slid over each image; at each position the total activation of the\n"
      "layer's feature map strongest on the whole image, the true-class probability and the most\n"
      "probable class; and the deconvnet projection of that feature's strongest activation.\n"
      "Writes DIR/analysis/occlusion.h5, occlusion.csv and DIR/report/occlusion.html.\n\n"
      "  --images SPLIT:LIST  short for --occlusion.images (test:0-4, train:3,7,9)\n"
      "  --epochs LIST|all    short for --occlusion.epochs (all = every snapshot)\n\n"
      "Definitions: docs/occlusion-format.md; keys: [occlusion] in docs/config.md.\n",
      /*help_lists_keys=*/false,
      {{"--images", "images"}, {"--epochs", "epochs"}},
      "e.g. --run runs/quickstart",
      "occlude",
      [](const Config& c) { return occlusion_config(c).in_analyze; },
      [](const Config& c) { parse_image_selection(occlusion_config(c).images, "occlusion.images"); },
      [](const RunPaths& p) {
        return std::vector<std::string>{p.in_analysis(kOcclusionFile), p.in_analysis(kOcclusionCsv),
                                        p.in_report(kOcclusionPage)};
      },
      occlusion_step,
      {kOcclusionPage, "Occlusion"},
      /*compare=*/{},
      /*convergence=*/nullptr,
  };
  return a;
}

}  // namespace ds
