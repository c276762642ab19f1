// See include/deconvscope/io/run_folder.hpp.
#include "deconvscope/io/run_folder.hpp"

#include <filesystem>

#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/core/error.hpp"

namespace fs = std::filesystem;

namespace ds {

RunPaths RunPaths::of(const std::string& dir) {
  RunPaths p;
  const fs::path d(dir);
  p.dir = dir;
  p.config = (d / "config.cfg").string();
  p.metrics = (d / "metrics.csv").string();
  p.snapshots = (d / "snapshots").string();
  p.last = (d / "last.h5").string();
  p.analysis = (d / "analysis").string();
  p.report = (d / "report").string();
  p.log = (d / "train.log").string();
  p.analysis_file = p.in_analysis("analysis.h5");
  p.health_file = p.in_analysis("health.h5");
  p.report_index = p.in_report("index.html");
  p.health_page = p.in_report("health.html");
  return p;
}

std::string RunPaths::in_analysis(const std::string& file) const { return (fs::path(analysis) / file).string(); }

std::string RunPaths::in_report(const std::string& file) const { return (fs::path(report) / file).string(); }

std::string RunPaths::relative(const std::string& path) const {
  fs::path base(dir);
  if (base.filename().empty() && base.has_relative_path()) base = base.parent_path();  // "runs/x/" is "runs/x"
  return fs::path(path).lexically_relative(base).string();
}

void create_folder(const std::string& folder) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec)
    throw Error(ErrorKind::io, folder, "cannot create the folder: " + ec.message(),
                "check the permissions of the folders above it, and that no file of that name is in the way");
}

std::vector<std::string> RunPaths::folders() const { return {dir, snapshots, analysis, report}; }

std::vector<std::pair<int, std::string>> run_snapshots(const RunPaths& paths) {
  if (!fs::is_directory(paths.snapshots)) return {};
  return list_snapshots(paths.snapshots);
}

std::string run_dir(const Config& cfg) { return cfg.run.dir.empty() ? "runs/" + cfg.run.name : cfg.run.dir; }

}  // namespace ds
