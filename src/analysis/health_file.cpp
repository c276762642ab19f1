// analysis/health.h5 (format "deconvscope.health", format_version 2; docs/health-format.md)
// and the CSV tables beside it. Flags are stored as uint8 0/1, as in analysis.h5; version
// 1 files, whose flags are int32, are still read. Reading checks the format, the version
// and every dataset's shape against the root attributes before using it.
// Left out: partial reads and updating a file in place (health is recomputed in one go).
#include <cmath>
#include <filesystem>

#include "deconvscope/analysis/health.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/atomic_file.hpp"
#include "deconvscope/io/h5.hpp"
#include "deconvscope/io/csv.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

// Checks that every array of the layer has the documented size (a deconvscope bug if not).
void check_layer(const LayerHealth& l, size_t E, const std::string& where) {
  const size_t EO = E * size_t(l.filters);
  auto need = [&](size_t found, size_t expected, const char* name) {
    if (found != expected)
      throw Error(ErrorKind::internal, where + ": layer " + l.layer + ": " + name,
                  expected_found(std::to_string(expected) + " values", std::to_string(found)),
                  "a deconvscope bug: the health results are inconsistent");
  };
  need(l.median_rms.size(), E, "median_rms");
  for (auto [n, s] : {std::pair{"rms", l.rms.size()},
                      {"fire_rate", l.fire_rate.size()},
                      {"max_correlation", l.max_correlation.size()},
                      {"partner", l.partner.size()},
                      {"never_fires", l.never_fires.size()},
                      {"collapsed", l.collapsed.size()},
                      {"dominating", l.dominating.size()},
                      {"dead", l.dead.size()}})
    need(s, EO, n);
  need(l.dead_since.size(), size_t(l.filters), "dead_since");
  if (l.is_first()) {
    need(l.mid_coverage.size(), E, "mid_coverage");
    for (auto [n, s] : {std::pair{"low_share", l.low_share.size()},
                        {"mid_share", l.mid_share.size()},
                        {"high_share", l.high_share.size()},
                        {"peak_frequency", l.peak_frequency.size()}})
      need(s, EO, n);
  }
  if (l.has_aliasing()) {
    need(l.aliasing_mean.size(), E, "aliasing_mean");
    need(l.aliasing_noise.size(), E, "aliasing_noise");
    need(l.aliasing_share.size(), EO, "aliasing_share");
  }
}

}  // namespace

void write_health(const std::string& path, const HealthResult& h) {
  const size_t E = h.epochs.size();
  for (const LayerHealth& l : h.layers) check_layer(l, E, path);
  h5::write_atomically(path, [&](h5::File& f) {
    const h5::Group root = f.root();
    root.write_attr_string("format", kHealthFormat);
    root.write_attr_int("format_version", kHealthFormatVersion);
    root.write_attr_ints("epochs", std::vector<int32_t>(h.epochs.begin(), h.epochs.end()));
    std::vector<std::string> names;
    for (const LayerHealth& l : h.layers) names.push_back(l.layer);
    root.write_attr_strings("layers", names);
    root.write_attr_string("split", h.split);
    root.write_attr_string("dataset_path", h.dataset_path);
    root.write_attr_int64("probe_count", h.probe_count);
    root.write_attr_string("probe_source", h.probe_source);
    if (!h.snapshot_sha256.empty()) root.write_attr_strings("snapshot_sha256", h.snapshot_sha256);
    root.write_attr_string("analysis_sha256", h.analysis_sha256);
    root.write_attr_ints("input_shape", {h.input.channels, h.input.height, h.input.width});
    const HealthThresholds& t = h.thresholds;
    root.write_attr_float("collapsed_ratio", t.collapsed_ratio);
    root.write_attr_float("dominating_ratio", t.dominating_ratio);
    root.write_attr_float("redundant_correlation", t.redundant_correlation);
    root.write_attr_float("low_band", t.low_band);
    root.write_attr_float("mid_band", t.mid_band);
    root.write_attr_int("spectrum_size", t.spectrum_size);
    root.write_attr_string("aliasing_layer", h.aliasing_layer);
    root.write_attr_ints("aliasing_stride", {h.aliasing_stride[0], h.aliasing_stride[1]});
    root.write_attr_string("aliasing_note", h.aliasing_note);

    const int64_t Ei = int64_t(E);
    for (const LayerHealth& l : h.layers) {
      const h5::Group g = root.create_group("layers/" + l.layer);
      const int64_t O = l.filters;
      g.write_attr_int("conv_index", l.conv_index);
      g.write_attr_int("filters", l.filters);
      g.write_attr_int("in_channels", l.in_channels);
      g.write_attr_ints("kernel", {l.kernel[0], l.kernel[1]});
      g.write_attr_ints("stride", {l.stride[0], l.stride[1]});
      g.write_attr_float("chance_correlation", l.chance_correlation);
      g.write_dataset("median_rms", {Ei}, l.median_rms);
      g.write_dataset("rms", {Ei, O}, l.rms);
      g.write_dataset("fire_rate", {Ei, O}, l.fire_rate);
      g.write_dataset("never_fires", {Ei, O}, l.never_fires);
      g.write_dataset("collapsed", {Ei, O}, l.collapsed);
      g.write_dataset("dominating", {Ei, O}, l.dominating);
      g.write_dataset("dead", {Ei, O}, l.dead);
      g.write_dataset("dead_since", {O}, l.dead_since);
      g.write_dataset("max_correlation", {Ei, O}, l.max_correlation);
      g.write_dataset("partner", {Ei, O}, l.partner);
      if (l.is_first()) {
        g.write_dataset("low_share", {Ei, O}, l.low_share);
        g.write_dataset("mid_share", {Ei, O}, l.mid_share);
        g.write_dataset("high_share", {Ei, O}, l.high_share);
        g.write_dataset("peak_frequency", {Ei, O}, l.peak_frequency);
        g.write_dataset("mid_coverage", {Ei}, l.mid_coverage);
      }
      if (l.has_aliasing()) {
        g.write_dataset("aliasing_share", {Ei, O}, l.aliasing_share);
        g.write_dataset("aliasing_mean", {Ei}, l.aliasing_mean);
        g.write_dataset("aliasing_noise", {Ei}, l.aliasing_noise);
      }
    }
  });
}

HealthResult read_health(const std::string& path) {
  if (!fs::exists(path))
    throw Error(ErrorKind::snapshot, path, "no such file", "run deconvscope health --run <run folder> first");
  const auto parse = [&](const h5::Group& root) {
    const int version =
        h5::check_format(root, kHealthFormat, {1, kHealthFormatVersion},
                         {/*other =*/"pass the health.h5 that `deconvscope health` wrote in a run folder's analysis/",
                          /*newer =*/"upgrade deconvscope, or recompute it: deconvscope health --run <run folder>",
                          /*older =*/"recompute it: deconvscope health --run <run folder>"});
    HealthResult h;
    for (int32_t e : root.read_attr_ints("epochs")) h.epochs.push_back(e);
    h.split = root.read_attr_string("split");
    h.dataset_path = root.read_attr_string("dataset_path");
    h.probe_count = root.read_attr_int64("probe_count");
    // Optional: files written before it existed lack it.
    if (root.has_attr("probe_source")) h.probe_source = root.read_attr_string("probe_source");
    const std::vector<int32_t> in = root.read_attr_ints("input_shape");
    if (in.size() != 3)
      throw Error(ErrorKind::snapshot, root.where() + " attribute input_shape",
                  expected_found("3 values", std::to_string(in.size())));
    h.input = InputShape{in[0], in[1], in[2]};
    h.thresholds.collapsed_ratio = root.read_attr_float("collapsed_ratio");
    h.thresholds.dominating_ratio = root.read_attr_float("dominating_ratio");
    h.thresholds.redundant_correlation = root.read_attr_float("redundant_correlation");
    h.thresholds.low_band = root.read_attr_float("low_band");
    h.thresholds.mid_band = root.read_attr_float("mid_band");
    h.thresholds.spectrum_size = root.read_attr_int("spectrum_size");
    h.aliasing_layer = root.read_attr_string("aliasing_layer");
    const std::vector<int32_t> st = root.read_attr_ints("aliasing_stride");
    if (st.size() != 2)
      throw Error(ErrorKind::snapshot, root.where() + " attribute aliasing_stride",
                  expected_found("2 values", std::to_string(st.size())));
    h.aliasing_stride = {st[0], st[1]};
    h.aliasing_note = root.read_attr_string("aliasing_note");

    const int64_t E = int64_t(h.epochs.size());
    const std::vector<std::string> layers = root.read_attr_strings("layers");
    if (E == 0 || layers.empty())
      throw Error(
          ErrorKind::snapshot, root.where() + " attributes epochs, layers",
          expected_found("at least one epoch and one layer", std::to_string(E) + " and " + std::to_string(layers.size())),
          "recompute it with deconvscope health");
    for (const std::string& name : layers) {
      const h5::Group g = root.open_group("layers/" + name);
      LayerHealth l;
      l.layer = name;
      l.conv_index = g.read_attr_int("conv_index");
      l.filters = g.read_attr_int("filters");
      l.in_channels = g.read_attr_int("in_channels");
      const std::vector<int32_t> k = g.read_attr_ints("kernel"), s = g.read_attr_ints("stride");
      if (k.size() != 2 || s.size() != 2 || l.filters < 0)
        throw Error(ErrorKind::snapshot, g.where(), "kernel and stride must hold 2 values and filters be >= 0");
      l.kernel = {k[0], k[1]};
      l.stride = {s[0], s[1]};
      l.chance_correlation = g.read_attr_float("chance_correlation");
      const int64_t O = l.filters;
      auto shape_of = [&](const std::string& rel, const std::vector<int64_t>& want) {
        const std::vector<int64_t> d = g.dataset_dims(rel);
        if (d != want)
          throw Error(ErrorKind::snapshot, g.where(rel), "shape " + expected_found(shape_str(want), shape_str(d)));
      };
      auto f32 = [&](const std::string& rel, const std::vector<int64_t>& want) {
        shape_of(rel, want);
        return g.read_dataset_f32(rel);
      };
      auto i32 = [&](const std::string& rel, const std::vector<int64_t>& want) {
        shape_of(rel, want);
        return g.read_dataset_i32(rel);
      };
      auto flags = [&](const std::string& rel) {
        shape_of(rel, {E, O});
        if (version >= 2) return g.read_dataset_u8(rel);
        const std::vector<int32_t> v = g.read_dataset_i32(rel);  // version 1: int32 0/1
        return std::vector<uint8_t>(v.begin(), v.end());
      };
      l.median_rms = f32("median_rms", {E});
      l.rms = f32("rms", {E, O});
      l.fire_rate = f32("fire_rate", {E, O});
      l.never_fires = flags("never_fires");
      l.collapsed = flags("collapsed");
      l.dominating = flags("dominating");
      l.dead = flags("dead");
      l.dead_since = i32("dead_since", {O});
      l.max_correlation = f32("max_correlation", {E, O});
      l.partner = i32("partner", {E, O});
      if (g.exists("mid_coverage")) {
        l.low_share = f32("low_share", {E, O});
        l.mid_share = f32("mid_share", {E, O});
        l.high_share = f32("high_share", {E, O});
        l.peak_frequency = f32("peak_frequency", {E, O});
        l.mid_coverage = f32("mid_coverage", {E});
      }
      if (g.exists("aliasing_mean")) {
        l.aliasing_share = f32("aliasing_share", {E, O});
        l.aliasing_mean = f32("aliasing_mean", {E});
        l.aliasing_noise = f32("aliasing_noise", {E});
      }
      h.layers.push_back(std::move(l));
    }
    // Optional: files written before the cache was keyed on content lack them.
    if (root.has_attr("snapshot_sha256")) h.snapshot_sha256 = root.read_attr_strings("snapshot_sha256");
    if (root.has_attr("analysis_sha256")) h.analysis_sha256 = root.read_attr_string("analysis_sha256");
    return h;
  };
  const h5::File f = h5::File::open_read(path, [&](const h5::Group& root) { parse(root); });
  HealthResult h = parse(f.root());
  h.sealed = f.sealed();
  return h;
}

void write_health_csv(const std::string& dir, const HealthResult& h) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::io, dir, "cannot create folder: " + ec.message(), "check the folder's permissions");
  const size_t E = h.epochs.size();
  for (const LayerHealth& l : h.layers) check_layer(l, E, dir);

  CsvWriter per(
      "layer,epoch,filter,rms,fire_rate,never_fires,collapsed,dominating,dead,dead_since,max_correlation,partner,"
      "low_share,mid_share,high_share,peak_frequency,aliasing_share");
  for (const LayerHealth& l : h.layers) {
    const size_t O = size_t(l.filters);
    for (size_t e = 0; e < E; ++e)
      for (size_t o = 0; o < O; ++o) {
        const size_t i = e * O + o;
        CsvRow row;
        row.text(l.layer)
            .integer(h.epochs[e])
            .integer(o)
            .number(l.rms[i])
            .number(l.fire_rate[i])
            .integer(l.never_fires[i])
            .integer(l.collapsed[i])
            .integer(l.dominating[i])
            .integer(l.dead[i])
            .integer(l.dead_since[o])
            .number(l.max_correlation[i])
            .integer(l.partner[i]);
        // The spectrum is measured on the first layer only, aliasing where a stride can fold.
        const bool first = l.is_first();
        row.number(first ? l.low_share[i] : NAN)
            .number(first ? l.mid_share[i] : NAN)
            .number(first ? l.high_share[i] : NAN)
            .number(first ? l.peak_frequency[i] : NAN)
            .number(l.has_aliasing() ? l.aliasing_share[i] : NAN);
        per.add(row);
      }
  }
  per.write((fs::path(dir) / "health.csv").string());

  CsvWriter sum(
      "layer,epoch,filters,median_rms,max_rms_ratio,dead_fraction,never_fires_fraction,collapsed_fraction,"
      "dominating_fraction,mean_max_correlation,chance_correlation,redundant_fraction,low_share,mid_share,"
      "high_share,mid_coverage,aliasing,aliasing_noise");
  for (const LayerHealth& l : h.layers)
    for (size_t e = 0; e < E; ++e) {
      const LayerEpochSummary s = summarize(l, h.thresholds, e);
      sum.add(CsvRow()
                  .text(l.layer)
                  .integer(h.epochs[e])
                  .integer(s.filters)
                  .number(s.median_rms)
                  .number(s.max_rms_ratio)
                  .number(s.dead)
                  .number(s.never_fires)
                  .number(s.collapsed)
                  .number(s.dominating)
                  .number(s.mean_max_correlation)
                  .number(s.chance_correlation)
                  .number(s.redundant)
                  .number(s.low)
                  .number(s.mid)
                  .number(s.high)
                  .number(s.mid_coverage)
                  .number(s.aliasing)
                  .number(s.aliasing_noise));
    }
  sum.write((fs::path(dir) / "health_summary.csv").string());
}

}  // namespace ds
