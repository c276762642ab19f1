// Filter health: per filter, per conv layer, per snapshot, the failures Zeiler & Fergus
// read off their pictures (Sec. 4.1, Fig. 6) as numbers: dead filters (never fire on the
// probe images, or weights collapsed), dominating filters (RMS far above the layer's
// median: Fig. 6a without renormalisation), the frequency content of first-layer filters
// (AlexNet's "little coverage of the mid frequencies"), stride aliasing in the second
// layer's deconvnet projections, and redundancy (near-copies within a layer).
// docs/health-format.md defines every figure and the file analysis/health.h5.
//
// The metric functions work on plain Tensors so that tests can feed hand-made filters;
// compute_health() runs them over a run's snapshots. Left out: fully connected layers
// (they have no spatial filters to look at), and any judgement across runs
// (report/compare.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "deconvscope/analysis/results.hpp"
#include "deconvscope/analysis/run.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/core/tensor.hpp"

namespace ds {

inline constexpr const char* kHealthFormat = "deconvscope.health";
// Version 2 stores the flags as uint8 (as analysis.h5 does); version 1, as int32, is still read.
inline constexpr int kHealthFormatVersion = 2;

// The thresholds; written into health.h5 so a reader knows what "dead" meant.
struct HealthThresholds {
  float collapsed_ratio = 0.1f;        // RMS below this x the layer's median RMS: collapsed (dead)
  float dominating_ratio = 3.0f;       // RMS above this x the layer's median RMS: dominating
  float redundant_correlation = 0.9f;  // max |cosine| with another filter at or above this: redundant
  float low_band = 1.f / 3.f;          // radial frequency, as a fraction of Nyquist: low below this,
  float mid_band = 2.f / 3.f;          //   mid up to this, high above
  int spectrum_size = 32;              // kernels are zero-padded to this N x N grid before the DFT
};

// --- Metrics on plain tensors (weights (O, I, kh, kw)) ---------------------------------

// RMS of each filter over its I*kh*kw weights, the quantity renormalisation clips. (O)
std::vector<float> filter_rms(const Tensor& weights);

// Median of the values (the mean of the two middle ones for an even count); 0 if empty.
float median_of(std::vector<float> values);

// Energy of one filter's 2-D spectrum in three radial bands, summed over input channels.
// Frequencies are in cycles per input pixel; rho = |f| / 0.5 (1 = Nyquist along an axis,
// up to sqrt(2) in the corners). The DC term belongs to the low band.
struct FrequencyShares {
  float low = 0, mid = 0, high = 0;  // shares of the energy; sum to 1 (NaN for a zero filter)
  float peak = 0;                    // rho of the strongest frequency (NaN for a zero filter)
};
std::vector<FrequencyShares> frequency_shares(const Tensor& weights, const HealthThresholds& t);

// Each filter's largest |cosine similarity| with another filter of the layer, over the
// flattened I*kh*kw weights, and which filter that is (-1 when the filter or every other
// is zero; the value is then 0).
struct Redundancy {
  float max_correlation = 0;
  int32_t partner = -1;
};
std::vector<Redundancy> filter_redundancy(const Tensor& weights);

// The chance level of filter_redundancy's mean max_correlation: its expected value for
// `filters` independent Gaussian filters of `size` weights (a fixed-seed Monte Carlo
// estimate). Larger filters are less alike by chance, so raw redundancy is not
// comparable across kernel sizes; redundancy above this is.
float chance_redundancy(int filters, int size);

// Share of a projection's energy that is periodic with the period (sy, sx), inside the
// window w: per channel, the mean over each of the sy*sx pixel phases (y mod sy, x mod sx)
// makes the periodic part; its energy over the window, against the window's energy about
// its mean. Equal to the DFT energy at the stride's frequencies (ky/sy, kx/sx) when the
// window is a multiple of the stride. proj: (C, H, W). NaN for a flat projection or a
// period of 1x1. White noise gives about stride_noise_share().
float stride_periodic_share(const float* proj, int C, int H, int W, const Window& w, int sy, int sx);

// The expected stride_periodic_share of white noise in window w: (sy*sx - 1) / (pixels
// - 1), the periodic part's degrees of freedom over the window's. NaN where the share is.
float stride_noise_share(int H, int W, const Window& w, int sy, int sx);

// --- A run's health -------------------------------------------------------------------

// One conv layer across the snapshots. Arrays [E * O] are epoch-major: [e * O + o].
struct LayerHealth {
  std::string layer;
  int conv_index = 0;   // 0 = the first conv layer of the network
  int filters = 0;      // O
  int in_channels = 0;  // I
  std::array<int, 2> kernel{1, 1}, stride{1, 1};
  std::vector<float> median_rms;       // [E]
  std::vector<float> rms;              // [E * O]
  std::vector<float> fire_rate;        // [E * O] share of probe images with any positive output
  std::vector<uint8_t> never_fires;    // [E * O] fire_rate == 0
  std::vector<uint8_t> collapsed;      // [E * O] rms == 0 or rms < collapsed_ratio * median
  std::vector<uint8_t> dominating;     // [E * O] rms > dominating_ratio * median
  std::vector<uint8_t> dead;           // [E * O] never_fires or collapsed
  std::vector<float> max_correlation;  // [E * O]
  std::vector<int32_t> partner;        // [E * O]
  std::vector<int32_t> dead_since;     // [O] first epoch from which the filter is dead through the last; -1
  float chance_correlation = 0;        // chance_redundancy(O, I * kh * kw)
  // First conv layer only (empty otherwise).
  std::vector<float> low_share, mid_share, high_share, peak_frequency;  // [E * O]
  std::vector<float> mid_coverage;  // [E] share of live filters whose peak is in the mid band
  // Second conv layer only, when the run was analysed (empty otherwise); NaN where the
  // analysis holds no projection of that feature at that epoch.
  std::vector<float> aliasing_share;  // [E * O] mean stride_periodic_share of its projections
  std::vector<float> aliasing_mean;   // [E] mean over the features that have one
  std::vector<float> aliasing_noise;  // [E] what white noise in the same windows would give (the floor)

  bool is_first() const { return !mid_coverage.empty(); }
  bool has_aliasing() const { return !aliasing_mean.empty(); }
};

struct HealthResult {
  std::vector<int> epochs;          // snapshot epochs, ascending
  std::vector<LayerHealth> layers;  // every conv layer, forward order
  HealthThresholds thresholds;
  std::string split;  // probe split for fire rates: train | test
  std::string dataset_path;
  int64_t probe_count = 0;   // first probe_count images of the split
  std::string probe_source;  // why these images, in words ("" in files written before it existed)
  InputShape input;
  // Aliasing: of which layer, at which period, and why it is missing if it is.
  std::string aliasing_layer;                // the second conv layer; "" if the network has one conv layer
  std::array<int, 2> aliasing_stride{1, 1};  // the first conv layer's stride (height, width)
  std::string aliasing_note;                 // "" when measured; otherwise the reason
  // What it was computed from, the key under which compare and health reuse it (content,
  // not file times: a snapshot copied with cp -p keeps an old time). SHA-256 per snapshot,
  // aligned with epochs, and of analysis.h5 ("" without one); empty in older files.
  std::vector<std::string> snapshot_sha256;
  std::string analysis_sha256;
  bool sealed = false;  // read back only: the file carried deconvscope's checksum
};

// Per layer and epoch, the figures of the tables (fractions of the layer's filters).
struct LayerEpochSummary {
  int filters = 0;
  float median_rms = 0;
  float dead = 0, never_fires = 0, collapsed = 0, dominating = 0;  // fractions
  float mean_max_correlation = 0, redundant = 0;
  float chance_correlation = kNaN;             // chance_redundancy of the layer's shape
  float max_rms_ratio = 0;                                         // largest rms / median
  float low = kNaN, mid = kNaN, high = kNaN, mid_coverage = kNaN;  // first layer only
  float aliasing = kNaN;                                           // second layer, if analysed
  float aliasing_noise = kNaN;                                     //   and its white-noise floor
  static constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
};
LayerEpochSummary summarize(const LayerHealth& l, const HealthThresholds& t, size_t epoch_index);

struct HealthOptions {
  HealthThresholds thresholds;
  // Images scanned for fire rates: -1 = the analysis' probe set (health_probe()); N >= 0 =
  // the first N images of the analysis.probe split, 0 = all of it.
  int64_t probe_limit = -1;
  bool quiet = false;  // no progress bars
};

// Which images health scans for fire rates. By default the images `deconvscope analyze`
// searched, so that the analysis' "inactive" and health's "dead" are about the same
// images: the split and count recorded in the run's analysis.h5 when there is one, else
// the config's rule (analysis.probe split; analysis.probe_limit images, or, when that is
// 0, the run's own limit for the split: data.train_limit for train, data.test_limit for
// test; 0 = all). opt.probe_limit >= 0 overrides the count.
struct ProbeSet {
  ProbeSplit split = ProbeSplit::train;
  int64_t limit = 0;   // first `limit` images; 0 = the whole split
  std::string source;  // the reason, for the page and health.h5
};
ProbeSet health_probe(const Config& cfg, const HealthOptions& opt, const AnalysisResult* analysis);

// Reads every snapshot of the run, scans the health_probe() images for fire rates (one
// Network, Mode::infer), and, if the run's analysis/analysis.h5 exists and holds the
// second conv layer, measures stride aliasing in its projections. Throws
// ds::Error(snapshot) when the snapshots differ in layers or the network has no conv layer.
HealthResult compute_health(const Run& run, const HealthOptions& opt = {});

// The run's health as `compare` needs it: analysis/health.h5 when it is current (the same
// snapshot epochs, written after the newest snapshot and after analysis.h5) and not
// `recompute`, else computed with the run's config.cfg and written (health.h5 and its
// CSV files, under the run's lock); *computed says which. ds::Error(snapshot) for a run
// without snapshots, ds::Error(usage) for a folder without config.cfg.
HealthResult current_health(const std::string& run_dir, const HealthOptions& opt, bool recompute, bool* computed);

// health.h5 (docs/health-format.md), written atomically; read back with schema checks
// (ds::Error(snapshot) "<file>: <object>").
void write_health(const std::string& path, const HealthResult& h);
HealthResult read_health(const std::string& path);

// health.csv (a row per layer, epoch and filter) and health_summary.csv (a row per layer
// and epoch) into dir, each atomically.
void write_health_csv(const std::string& dir, const HealthResult& h);

}  // namespace ds
