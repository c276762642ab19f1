// Snapshot files: one HDF5 file per chosen epoch, runs/<name>/snapshots/epoch-0005.h5,
// in the format documented in docs/snapshot-format.md (format "deconvscope.snapshot",
// format_version 1). Written to a temporary name, flushed and renamed into place, so a
// reader never sees a partial file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deconvscope/config/layer_spec.hpp"
#include "deconvscope/core/layer_params.hpp"
#include "deconvscope/core/tensor.hpp"

namespace ds {

constexpr const char* kSnapshotFormat = "deconvscope.snapshot";
constexpr int kSnapshotFormatVersion = 1;

// What resuming needs beyond the weights.
struct OptimizerState {
  float lr = 0.f;
  std::vector<LayerParams> momentum;  // aligned with layers; empty where no params
  std::string rng_state;              // std::mt19937_64 state as text
  float best_val_loss = 0.f;          // plateau schedule
  int epochs_since_best = 0;
  // MPI ranks the state was trained on (1 without mpirun); 0 in files written before it
  // was recorded. A resume with another count says what changes (docs/scaling.md).
  int ranks = 0;
};

struct Snapshot {
  int epoch = 0;
  int64_t step = 0;
  std::string config;  // the effective config as INI text
  InputShape input;
  int num_classes = 0;
  std::vector<float> input_mean, input_std;  // per channel
  float train_loss = 0, train_accuracy = 0, val_loss = 0, val_accuracy = 0;
  std::vector<LayerSpec> layers;
  std::vector<LayerParams> params;  // aligned with layers
  OptimizerState optimizer;
  // Filled by read_snapshot: SHA-256 of the file's content (its verified checksum), so
  // that results computed from it can tell when it changed.
  std::string content_sha256;
};

// "epoch-0005.h5"
std::string snapshot_file_name(int epoch);
// Writes atomically (temp file, fsync, rename). Throws ds::Error(io) naming the path, and
// ds::Error(internal) if the parameters do not fit the layer list (a caller's bug).
void write_snapshot(const std::string& path, const Snapshot& s);
// Verifies the file's checksum (io/h5_checksum.hpp) before HDF5 parses it, then reads and
// validates format, version, every shape against the layer attributes, and every value
// against its meaning: epoch >= 0 and equal to the NNNN of an epoch-NNNN.h5 name, step,
// input_shape, num_classes (= the last layer's outputs), input_std > 0, finite weights,
// LRN and dropout parameters, losses and accuracies. Throws ds::Error(snapshot) naming
// the path, the attribute or dataset and the value found.
Snapshot read_snapshot(const std::string& path);
// Refuses (ds::Error(snapshot)) a snapshot whose input shape or any layer attribute
// differs from `expected` (a run's first snapshot), naming both.
void check_same_network(const Snapshot& s, const std::string& path, const std::vector<LayerSpec>& expected,
                        const InputShape& expected_input, const std::string& expected_from);
// What resuming from `s` needs on top of read_snapshot: epoch <= train.epochs and step =
// epoch * steps per epoch of the run's config. ds::Error(snapshot) naming the attribute.
void check_resume_position(const Snapshot& s, const std::string& path, int max_epoch, int64_t steps_per_epoch);
// Complete snapshots in a run's snapshots/ folder, sorted by epoch (temp files ignored).
std::vector<std::pair<int, std::string>> list_snapshots(const std::string& snapshots_dir);

}  // namespace ds
