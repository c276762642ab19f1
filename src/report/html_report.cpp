// The run report: renders every picture into <run_dir>/report/ and writes one static
// index.html beside them (relative <img> paths, inline CSS, no scripts, no network), so
// the folder opens from disk in any browser and can be copied elsewhere whole.
// Left out: interactivity, and pictures of layers that were not analysed.
#include "deconvscope/io/text_file.hpp"
#include "deconvscope/report/style.hpp"
#include "deconvscope/report/html_report.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "deconvscope/core/error.hpp"
#include "deconvscope/io/atomic_file.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/report/csv.hpp"
#include "deconvscope/report/png.hpp"
#include "deconvscope/report/render.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {


std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Layer names come from configs; keep file names portable anyway.
std::string file_safe(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out.empty() ? "layer" : out;
}

std::string epoch_tag(int e) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "epoch%04d", e);
  return buf;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// run.name from the run's config.cfg ([run] name = ...); "" if absent.
std::string run_name_from_config(const std::string& text) {
  std::istringstream in(text);
  std::string line, section;
  while (std::getline(in, line)) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#' || line[b] == ';') continue;
    line = line.substr(b, line.find_last_not_of(" \t\r") + 1 - b);
    if (line.front() == '[') {
      section = line.substr(1, line.find(']') - 1);
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    key.erase(key.find_last_not_of(" \t") + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if ((section == "run" && key == "name") || (section.empty() && key == "run.name")) return value;
  }
  return {};
}


void check_result(const AnalysisResult& r, const Dataset& probe) {
  const size_t L = r.layers.size();
  auto bad = [](const std::string& what, size_t expected, size_t found) {
    return Error(ErrorKind::snapshot, "analysis: " + what,
                 expected_found(std::to_string(expected) + " (one per analysed layer)", std::to_string(found)),
                 "re-run the analysis");
  };
  if (r.evolution.size() != L) throw bad("evolution entries", L, r.evolution.size());
  if (!r.jumps.empty() && r.jumps.size() != L) throw bad("jump entries", L, r.jumps.size());
  if (!r.convergence.empty() && r.convergence.size() != L) throw bad("convergence entries", L, r.convergence.size());
  const std::string where = probe.source.empty() ? "probe dataset" : probe.source;
  if (probe.channels != r.input.channels || probe.height != r.input.height || probe.width != r.input.width)
    throw Error(
        ErrorKind::data, where,
        "image shape " + expected_found("(" + std::to_string(r.input.channels) + ", " + std::to_string(r.input.height) +
                                            ", " + std::to_string(r.input.width) + ") as analysed",
                                        "(" + std::to_string(probe.channels) + ", " + std::to_string(probe.height) +
                                            ", " + std::to_string(probe.width) + ")"),
        "pass the dataset and split the analysis was made on");
  if (probe.size() < size_t(std::max<int64_t>(0, r.probe_count)))
    throw Error(
        ErrorKind::data, where,
        "probe images " + expected_found("at least " + std::to_string(r.probe_count), std::to_string(probe.size())),
        "pass the dataset and split the analysis was made on");
}

class Page {
 public:
  std::ostringstream h;
  void img(const std::string& file, const std::string& alt, const std::string& caption) {
    h << "<figure><img src=\"" << html_escape(file) << "\" alt=\"" << html_escape(alt) << "\">";
    if (!caption.empty()) h << "<figcaption>" << html_escape(caption) << "</figcaption>";
    h << "</figure>\n";
  }
  void note(const std::string& text) { h << "<p class=\"note\">" << html_escape(text) << "</p>\n"; }
  void kv(const std::string& key, const std::string& value) {
    h << "<tr><th>" << html_escape(key) << "</th><td>" << html_escape(value) << "</td></tr>\n";
  }
  void row(const std::vector<std::string>& cells, bool header = false) {
    h << "<tr>";
    for (const auto& c : cells) h << (header ? "<th>" : "<td>") << html_escape(c) << (header ? "</th>" : "</td>");
    h << "</tr>\n";
  }
};

}  // namespace

void write_report(const std::string& run_dir, const AnalysisResult& r, const Dataset& probe) {
  check_result(r, probe);
  const fs::path dir = fs::path(run_dir) / "report";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::io, dir.string(), "cannot create folder: " + ec.message(), "check permissions");
  auto out = [&](const std::string& name) { return (dir / name).string(); };

  const std::string metrics_path = (fs::path(run_dir) / "metrics.csv").string();
  const std::string config_path = (fs::path(run_dir) / "config.cfg").string();
  const std::string config_text = fs::exists(config_path) ? read_text(config_path) : std::string();
  std::string run_name = run_name_from_config(config_text);
  if (run_name.empty()) run_name = fs::path(run_dir).lexically_normal().filename().string();
  if (run_name.empty() || run_name == ".") run_name = fs::absolute(run_dir).lexically_normal().filename().string();

  // Metrics: a missing or malformed file is reported on the page, not fatal.
  CsvTable metrics;
  std::string metrics_problem;
  if (!fs::exists(metrics_path)) {
    metrics_problem = "No metrics.csv in " + run_dir + ": training curves and the metrics table are not available.";
  } else {
    try {
      metrics = read_csv(metrics_path);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::data) throw;
      metrics_problem = std::string("metrics.csv could not be read: ") + e.what();
    }
  }
  bool curves = false;
  if (metrics_problem.empty()) {
    try {
      plot_training_curves(metrics_path, out("training_curves.png"));
      curves = true;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::data) throw;
      metrics_problem = std::string("Training curves could not be drawn: ") + e.what();
    }
  }
  std::string final_val = "n/a", epochs_trained = "n/a";
  if (!metrics.rows.empty()) {
    const int ce = metrics.column("epoch"), cv = metrics.column("val_accuracy");
    if (ce >= 0) epochs_trained = metrics.rows.back()[ce];
    if (cv >= 0) {
      const double v = std::strtod(metrics.rows.back()[cv].c_str(), nullptr);
      final_val = v <= 1.0 ? fmt("%.2f%%", 100 * v) : metrics.rows.back()[cv];
    }
  }

  const bool have_convergence = !r.convergence.empty() && !r.epochs.empty();
  if (have_convergence) plot_convergence(r, out("convergence.png"));

  Page p;
  auto& h = p.h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>deconvscope: " << html_escape(run_name) << "</title>\n<style>" << kReportCss
    << "</style>\n</head>\n<body>\n<main>\n";
  h << "<h1>" << html_escape(run_name) << "</h1>\n<p class=\"sub\">deconvscope report: how the features of a "
    << "convnet evolve during training, seen through the Zeiler &amp; Fergus deconvnet.</p>\n";
  h << "<nav><a href=\"#summary\">Summary</a><a href=\"#training\">Training</a><a "
       "href=\"#convergence\">Convergence</a>";
  for (const auto& l : r.layers)
    h << "<a href=\"#layer-" << html_escape(file_safe(l)) << "\">" << html_escape(l) << "</a>";
  h << "<a href=\"#jumps\">Jumps</a><a href=\"#filters\">Filters</a><a href=\"#metrics\">Metrics</a>"
    << (fs::exists(dir / "health.html") ? "<a href=\"health.html\">Filter health</a>" : "") << "</nav>\n";

  // --- Summary
  std::string epochs_list;
  for (size_t i = 0; i < r.epochs.size(); ++i) epochs_list += (i ? ", " : "") + std::to_string(r.epochs[i]);
  std::string layers_list;
  for (size_t i = 0; i < r.layers.size(); ++i) layers_list += (i ? ", " : "") + r.layers[i];
  h << "<h2 id=\"summary\">Summary</h2>\n<table class=\"kv\">\n";
  p.kv("Run", run_name);
  p.kv("Run folder", run_dir);
  p.kv("Dataset", r.dataset_path.empty() ? probe.source : r.dataset_path);
  p.kv("Probe images", std::to_string(r.probe_count) + " (first of the " + r.split + " split)");
  p.kv("Input", std::to_string(r.input.channels) + " x " + std::to_string(r.input.height) + " x " +
                    std::to_string(r.input.width));
  p.kv("Epochs trained", epochs_trained);
  p.kv("Final val accuracy", final_val);
  p.kv("Snapshots analysed (epochs)", epochs_list);
  p.kv("Analysed layers", layers_list);
  p.kv("Jump threshold", "strongest image changed and projection cosine < " + fmt("%.2f", r.jump_threshold));
  p.kv("Convergence threshold", "filter similarity to the final snapshot >= " + fmt("%.2f", r.convergence_threshold));
  h << "</table>\n";

  // --- Training curves
  h << "<h2 id=\"training\">Training</h2>\n";
  if (curves) p.img("training_curves.png", "training curves", "Loss and accuracy per epoch, from metrics.csv.");
  if (!metrics_problem.empty()) p.note(metrics_problem);

  // --- Convergence
  h << "<h2 id=\"convergence\">Convergence</h2>\n";
  if (!have_convergence) {
    p.note("The analysis holds no convergence figures.");
  } else {
    p.img("convergence.png", "filter convergence",
          "Mean cosine similarity of each layer's filters to the final snapshot's; a layer has converged from the "
          "first epoch after which it stays above the threshold.");
    // One table per convergence figure: the layer, where it converged, its value per epoch.
    auto table = [&](const char* caption, auto values, auto converged_at) {
      h << "<p class=\"hint\">" << caption << "</p>\n";
      h << "<div class=\"scroll\"><table>\n<tr><th>layer</th><th>converged at</th>";
      for (int e : r.epochs) h << "<th>epoch " << e << "</th>";
      h << "</tr>\n";
      for (size_t l = 0; l < r.layers.size(); ++l) {
        const LayerConvergence& c = r.convergence[l];
        const int at = converged_at(c);
        const std::vector<float>& v = values(c);
        h << "<tr><td>" << html_escape(r.layers[l]) << "</td><td class=\"num\">"
          << (at >= 0 ? "epoch " + std::to_string(at) : std::string("never")) << "</td>";
        for (size_t e = 0; e < r.epochs.size(); ++e) {
          if (e >= v.size()) {
            h << "<td></td>";
            continue;
          }
          h << "<td class=\"num" << (v[e] >= r.convergence_threshold ? " ok" : "") << "\">" << fmt("%.3f", v[e])
            << "</td>";
        }
        h << "</tr>\n";
      }
      h << "</table></div>\n";
    };
    table("Mean cosine similarity of the filters to the final snapshot's.",
          [](const LayerConvergence& c) -> const std::vector<float>& { return c.filter_similarity; },
          [](const LayerConvergence& c) { return c.converged_at; });
    table("Share of the way from the first snapshot's weights to the final ones, 1 - |W - W_final| / "
          "|W_first - W_final|: free of the random start, which keeps the cosine high in short runs.",
          [](const LayerConvergence& c) -> const std::vector<float>& { return c.weight_progress; },
          [](const LayerConvergence& c) { return c.progress_converged_at; });
    h << "</table></div>\n<p class=\"hint\">Green: at or above the threshold.</p>\n";
  }

  // --- Per layer: evolution strip and top-k grids
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const std::string name = r.layers[l], safe = file_safe(name);
    h << "<h2 id=\"layer-" << html_escape(safe) << "\">Layer " << html_escape(name) << "</h2>\n";
    h << "<h3>Evolution of the strongest activation</h3>\n";
    const std::string strip = "evolution_" + safe + ".png";
    render_evolution_strip(r, l, probe, out(strip));
    p.img(strip, "evolution of " + name,
          "Each row a feature, each column a snapshot: the deconvnet projection of the feature's strongest "
          "activation over the probe images (left) beside the image patch it came from (right), both cropped to "
          "the receptive field. Red frame: a jump (new strongest image, projection cosine below " +
              fmt("%.2f", r.jump_threshold) + "); amber: new image, similar projection.");
    for (const auto& [epoch, layers] : r.topk) {
      if (l >= layers.size()) continue;
      const LayerTopK& t = layers[l];
      const std::string grid = "topk_" + safe + "_" + epoch_tag(epoch) + ".png";
      render_topk_grid(t, r, probe, out(grid));
      h << "<h3>Top " << t.k << " activations at epoch " << epoch << "</h3>\n";
      p.img(grid, "top-k of " + name + " at epoch " + std::to_string(epoch),
            "For each feature, its " + std::to_string(t.k) +
                " strongest activations over the probe images, each "
                "projected separately (left block) beside the image patches (right block)" +
                (t.features > 64 ? "; the first 64 of " + std::to_string(t.features) + " features." : "."));
    }
  }

  // --- Jumps
  h << "<h2 id=\"jumps\">Jumps</h2>\n<p class=\"hint\">\"Sudden jumps in appearance result from a change in the image "
       "from which the strongest activation originates\" (Zeiler &amp; Fergus, Fig. 4).</p>\n";
  // Falling silent and coming back are listed with the jumps but counted apart: they are
  // not a new strongest image (docs/analysis-format.md).
  size_t jump_count = 0, silent_count = 0, back_count = 0;
  std::ostringstream rows;
  for (size_t l = 0; l < r.layers.size() && l < r.jumps.size(); ++l) {
    const LayerJumps& j = r.jumps[l];
    const LayerEvolution& ev = r.evolution[l];
    const size_t F = ev.features.size();
    for (size_t e = 1; e < r.epochs.size(); ++e)
      for (size_t f = 0; f < F; ++f) {
        const size_t i = (e - 1) * F + f;
        const bool jump = i < j.jump.size() && j.jump[i];
        const bool silent = i < j.went_silent.size() && j.went_silent[i];
        const bool back = i < j.came_back.size() && j.came_back[i];
        if (!jump && !silent && !back) continue;
        (jump ? jump_count : silent ? silent_count : back_count) += 1;
        auto img = [&](size_t ei) {
          const size_t k = ei * F + f;
          if (k >= ev.strongest.size()) return std::string("?");
          return ev.strongest[k].image < 0 ? std::string("inactive") : std::to_string(ev.strongest[k].image);
        };
        rows << "<tr><td>" << html_escape(r.layers[l]) << "</td><td class=\"num\">" << ev.features[f]
             << "</td><td class=\"num\">" << r.epochs[e - 1] << " &rarr; " << r.epochs[e] << "</td><td>"
             << (jump ? "jump" : silent ? "went silent" : "came back") << "</td><td class=\"num\">"
             << (jump && i < j.projection_similarity.size() ? fmt("%.3f", j.projection_similarity[i]) : "")
             << "</td><td class=\"num\">" << (i < j.filter_change.size() ? fmt("%.3f", j.filter_change[i]) : "")
             << "</td><td class=\"num\">" << img(e - 1) << " &rarr; " << img(e) << "</td></tr>\n";
      }
  }
  h << "<p>" << jump_count << (jump_count == 1 ? " jump" : " jumps") << " among the followed features; apart from them, "
    << silent_count << " went silent (fired on no probe image) and " << back_count << " came back.</p>\n";
  if (jump_count + silent_count + back_count > 0) {
    h << "<div class=\"scroll\"><table>\n<tr><th>layer</th><th>feature</th><th>epochs</th><th>what</th>"
         "<th>projection cosine</th><th>filter change</th><th>strongest image</th></tr>\n"
      << rows.str() << "</table></div>\n";
  }

  // --- First-layer filters of each analysed snapshot, when the snapshots are there.
  h << "<h2 id=\"filters\">First-layer filters</h2>\n";
  const fs::path snap_dir = fs::path(run_dir) / "snapshots";
  std::vector<std::pair<int, std::string>> snaps;
  std::string snap_problem;
  if (fs::is_directory(snap_dir)) {
    try {
      snaps = list_snapshots(snap_dir.string());
    } catch (const Error& e) {
      snap_problem = e.what();
    }
  }
  Page row;  // the mosaics side by side, emitted only if there are any
  size_t mosaics = 0;
  for (const auto& [epoch, path] : snaps) {
    if (std::find(r.epochs.begin(), r.epochs.end(), epoch) == r.epochs.end()) continue;
    Snapshot s;
    try {
      s = read_snapshot(path);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::snapshot) throw;
      snap_problem = e.what();
      continue;
    }
    for (size_t i = 0; i < s.layers.size() && i < s.params.size(); ++i) {
      if (s.layers[i].type != LayerType::conv) continue;
      const Tensor& w = s.params[i].weights;  // (O, I, kh, kw)
      if (w.dims.size() != 4) break;
      const int k = int(std::max(w.dims[2], w.dims[3]));
      const std::string file = "filters_" + epoch_tag(epoch) + ".png";
      write_png(filter_mosaic(w, k * std::max(1, 48 / std::max(1, k))), out(file));
      row.img(file, s.layers[i].name + " filters at epoch " + std::to_string(epoch),
              s.layers[i].name + ", epoch " + std::to_string(epoch));
      ++mosaics;
      break;
    }
  }
  if (mosaics == 0) {
    p.note("No snapshots of the analysed epochs in " + snap_dir.string() + ".");
  } else {
    h << "<p class=\"hint\">Each filter stretched around grey = 0 by its own largest weight.</p>\n"
      << "<div class=\"row\">\n"
      << row.h.str() << "</div>\n";
  }
  if (!snap_problem.empty()) p.note(snap_problem);

  // --- Metrics table
  h << "<h2 id=\"metrics\">Metrics per epoch</h2>\n";
  if (!metrics_problem.empty() && metrics.header.empty()) {
    p.note(metrics_problem);
  } else {
    h << "<div class=\"scroll\"><table>\n";
    p.row(metrics.header, true);
    for (const auto& row : metrics.rows) {
      h << "<tr>";
      for (const auto& c : row) h << "<td class=\"num\">" << html_escape(c) << "</td>";
      h << "</tr>\n";
    }
    h << "</table></div>\n";
  }
  if (!config_text.empty())
    h << "<details><summary>config.cfg</summary><pre>" << html_escape(config_text) << "</pre></details>\n";

  const std::time_t now = std::time(nullptr);
  char when[64] = "";
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M", std::localtime(&now));
  h << "<footer>Generated by deconvscope on " << when << ".</footer>\n</main>\n</body>\n</html>\n";
  write_text_atomic(out("index.html"), h.str());
}

}  // namespace ds
