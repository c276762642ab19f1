// `deconvscope occlusion`: parse the flags, compute (analysis/occlusion.hpp), write the
// file, the CSV and the page (report/occlusion_page.hpp), print a short summary. Errors
// are ds::Error; cli/commands.cpp turns them into exit codes.
#include "deconvscope/cli/occlusion_command.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "deconvscope/cli/args.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/run_lock.hpp"
#include "deconvscope/io/write_set.hpp"
#include "deconvscope/report/occlusion_page.hpp"

namespace fs = std::filesystem;

namespace ds {

OcclusionResult occlusion_and_report(const Run& run, bool quiet, const std::string& command) {
  OcclusionRequest request;
  request.config = run.config().occlusion;
  request.quiet = quiet;
  const OcclusionResult r = compute_occlusion(run, request);
  const RunPaths& paths = run.paths();
  std::error_code ec;
  fs::create_directories(paths.analysis, ec);
  if (ec) throw Error(ErrorKind::io, paths.analysis, "cannot create folder: " + ec.message(), "check permissions");
  write_occlusion(paths.in_analysis("occlusion.h5"), r);
  write_occlusion_csv(paths.in_analysis("occlusion.csv"), r);
  // The page shows the images themselves: load the few it needs once more (cheap).
  const int64_t need = *std::max_element(r.images.begin(), r.images.end()) + 1;
  const RunImages images = run.images(r.split == "train", need);
  write_occlusion_page(run.dir(), r, images.images(), command);
  return r;
}

int cmd_occlusion(std::vector<std::string> args) {
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::cout << "usage: deconvscope occlusion --run DIR [--images test:0-4] [--epochs all|E,E,...]\n"
                 "                             [--occlusion.size N --occlusion.stride N --occlusion.layer L]\n\n"
                 "Zeiler & Fergus Fig. 7 at every snapshot of the run in DIR, with its own config (DIR/config.cfg):\n"
                 "a square of the dataset mean slid over each image; at each position the total activation of the\n"
                 "layer's feature map strongest on the whole image, the true-class probability and the most\n"
                 "probable class; and the deconvnet projection of that feature's strongest activation.\n"
                 "Writes DIR/analysis/occlusion.h5, occlusion.csv and DIR/report/occlusion.html.\n\n"
                 "  --images SPLIT:LIST  short for --occlusion.images (test:0-4, train:3,7,9)\n"
                 "  --epochs LIST|all    short for --occlusion.epochs (all = every snapshot)\n\n"
                 "Definitions: docs/occlusion-format.md; keys: [occlusion] in docs/config.md.\n";
    return 0;
  }
  const std::string dir = take_value(args, "--run", "");
  if (dir.empty()) throw Error(ErrorKind::usage, "occlusion", "expected --run DIR", "e.g. --run runs/quickstart");
  const std::string images = take_value(args, "--images", ""), epochs = take_value(args, "--epochs", "");
  if (!images.empty()) args.insert(args.end(), {"--occlusion.images", images});
  if (!epochs.empty()) args.insert(args.end(), {"--occlusion.epochs", epochs});
  const Config cfg = load_run_config(dir, args);
  const RunLock lock(dir);
  const Run run = Run::open(dir, cfg, "occlude");
  WriteSetMarker marker(dir, "occlusion", {"analysis/occlusion.h5", "analysis/occlusion.csv", "report/occlusion.html"});
  OcclusionResult r;
  try {
    r = occlusion_and_report(run, /*quiet=*/false, "occlusion --run " + dir);
  } catch (const Error& e) {
    throw marker.failed(e);
  }
  marker.complete();

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
  const RunPaths& paths = run.paths();
  std::printf("wrote %s, %s\nreport: %s\n", paths.in_analysis("occlusion.h5").c_str(),
              paths.in_analysis("occlusion.csv").c_str(), paths.in_report("occlusion.html").c_str());
  return 0;
}

}  // namespace ds
