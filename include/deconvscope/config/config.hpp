// The effective configuration of a run: defaults, then a config file (INI, read with
// Boost.Program_options; `[train]` then `epochs = 64` is the key `train.epochs`), then
// command-line overrides under the same dotted names. docs/config.md lists every key.
#pragma once

#include <any>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "deconvscope/config/layer_spec.hpp"

namespace ds {

// The keys with a closed set of values, as enums: every use is a `switch` without
// `default:`, so that -Wswitch names a case left out, where comparing strings would
// silently skip a misspelt one. to_string gives the config text ("fashion-mnist"), which
// is also what config.cfg, analysis.h5 and messages show.
enum class DatasetKind { fashion_mnist, mnist, cifar10, folder };  // data.dataset
enum class Streaming { automatic, on, off };                       // data.streaming: auto | on | off
enum class BadImages { stop, skip };                               // data.bad_images
enum class LrSchedule { none, step, plateau };                     // train.lr_schedule
enum class InitScheme { gaussian, he };                            // train.init
enum class ProbeSplit { train, test };                             // analysis.probe

const char* to_string(DatasetKind d);  // "fashion-mnist" | "mnist" | "cifar10" | "folder"
const char* to_string(Streaming s);    // "auto" | "on" | "off"
const char* to_string(BadImages b);    // "stop" | "skip"
const char* to_string(LrSchedule s);   // "none" | "step" | "plateau"
const char* to_string(InitScheme i);   // "gaussian" | "he"
const char* to_string(ProbeSplit p);   // "train" | "test"
// The split named `text` ("train" or "test"); false if it names none (a file's attribute).
bool parse_probe_split(const std::string& text, ProbeSplit& out);

struct RunConfig {
  std::string name = "run";
  std::string dir;     // default runs/<name>
  uint64_t seed = 1;
  int threads = 2;
};

struct DataConfig {
  DatasetKind dataset = DatasetKind::fashion_mnist;
  std::string path;                       // default: /usr/share/datasets/fashion-mnist for fashion-mnist
  int64_t train_limit = 0;                // first N training images; 0 = all
  int64_t test_limit = 0;                 // first N test images; 0 = all
  int resize = 0;                         // resize images to resize x resize; 0 = keep
  int crop_pad = 0;                       // augmentation: random crop after zero padding by this
  bool flip = false;                      // augmentation: random horizontal flip
  // folder only: decode on demand instead of holding the set (auto: when it exceeds the budget)
  Streaming streaming = Streaming::automatic;
  int64_t memory_budget_mb = 1024;        // auto streams when the decoded set would exceed this
  int reader_threads = 2;                 // streaming: threads decoding images
  int prefetch_batches = 3;               // streaming: batches decoded ahead of the trainer
  BadImages bad_images = BadImages::stop; // folder: an image OpenCV cannot decode stops the run, or is skipped
};

struct TrainConfig {
  int epochs = 10;
  int batch = 128;
  float lr = 0.01f;
  float momentum = 0.9f;
  float weight_decay = 5e-4f;
  LrSchedule lr_schedule = LrSchedule::step;
  int lr_step = 0;                   // step: multiply lr by lr_gamma every lr_step epochs (0 = never)
  float lr_gamma = 0.1f;
  int lr_patience = 3;               // plateau: epochs without val-loss improvement before lowering
  float renorm_radius = 0.1f;        // conv filters with RMS above this are scaled back; 0 = off
  InitScheme init = InitScheme::he;  // or gaussian (the paper's; at 0.01 a deep net without a config barely learns)
  float init_std = 0.01f;            // gaussian init std (the paper's 1e-2)
  int probe_batch = 256;             // images in the fixed probe batch for dead-feature counts
  Precision precision = Precision::f32;  // f32 | bf16 (mixed precision, f32 master weights)
};

struct SnapshotConfig {
  std::vector<int> epochs{0, 1, 2, 5, 10};  // 0 = initialisation, before any step
};

struct AnalysisConfig {
  std::vector<std::string> layers;  // empty = every conv layer
  int features = 8;                 // features per layer followed by the evolution; -1 = all
  std::vector<int> feature_list;    // explicit features to follow (features = 3,17,40); overrides the count
  ProbeSplit probe = ProbeSplit::train;  // the split searched
  int64_t probe_limit = 0;          // first N images of that split; 0 = the run's own (data.*_limit)
  int topk = 9;
  std::vector<int> topk_epochs;     // empty = the last snapshot
  bool live = false;                // trainer analyses after each snapshot
  int batch = 128;
};

// [health]: how `deconvscope health` (and `compare`, for a run whose health it computes)
// judges filters (analysis/health.hpp HealthOptions; docs/health-format.md). Their flags
// --probe, --dominating-ratio, --collapsed-ratio, --redundant-correlation are short for these.
struct HealthConfig {
  int64_t probe = -1;                  // images scanned for fire rates: -1 (auto) = those analyze searched; 0 = all
  float dominating_ratio = 3.0f;       // RMS above this x the layer's median RMS: dominating
  float collapsed_ratio = 0.1f;        // RMS below this x the layer's median RMS: collapsed (dead)
  float redundant_correlation = 0.9f;  // max |cosine| with another filter at or above this: redundant
};

struct Config {
  RunConfig run;
  DataConfig data;
  InputShape input;               // filled from the dataset at load time
  std::vector<LayerSpec> layers;  // model.layer lines, in order
  ConvAlgorithm conv_algorithm = ConvAlgorithm::automatic;  // model.conv_algorithm (auto: see docs/config.md)
  std::vector<ResolvedConv> conv_algorithms;              // model.conv_algorithms: auto's choice, per layer
  TrainConfig train;
  SnapshotConfig snapshot;
  AnalysisConfig analysis;
  // The sections a higher stage registers (config_section.hpp), by section name, each
  // holding its owner's struct; read through the owner's accessor. Absent: its defaults.
  std::map<std::string, std::any> sections;
  HealthConfig health;
  std::string source;             // the config file it came from, "" if none
  std::string text;               // the effective config as INI text (reloadable)
};

// Parses `--config FILE` and `--section.key value` overrides from args (argv without the
// program and subcommand names). Throws ds::Error(config) naming the file and line or key.
Config load_config(const std::vector<std::string>& args);
// The effective config as INI text (what Config::text holds): for a Config changed after
// loading, such as train's resolution of model.conv_algorithm = auto.
std::string config_text(const Config& cfg);
// Parses the INI text of an effective config (as stored in a snapshot's `config`).
Config parse_config_text(const std::string& text, const std::string& where);
// One key whose value differs between two configs: `train --resume` compares the run's
// own config.cfg (a) with the config it is given (b).
struct ConfigDifference {
  std::string key;  // "train.lr"; "model.layer" for the layer list
  std::string a, b; // the values as config text ("model.layer": the first differing line, or the count)
};
// Every key whose value differs between a and b, in the order of docs/config.md.
std::vector<ConfigDifference> config_differences(const Config& a, const Config& b);
// What changing a key changes, declared once per key (its KeySpec, config_section.hpp: in
// config.cpp's table or a registered section). Two readers follow it: `train --resume` may
// change a key that changes neither the weights nor the training's own records, and
// `compare` names the differing keys that change the weights.
enum class KeyEffect {
  weights,       // what is trained: run.seed, the images trained on, the model, the optimiser
  training_log,  // what training records beside the weights (train.probe_batch: metrics.csv's
                 // dead fractions), so one run's log would mix two settings; not the weights
  results,       // what is kept of the weights or computed from them: the run's length, the
                 // snapshots, every analysis and health
  nothing,       // where and how the run computes: its name, folder, threads, how a folder is
                 // streamed (bit for bit the same batches), the conv algorithm chosen per layer
};
const char* to_string(KeyEffect e);  // "weights" | "training_log" | "results" | "nothing"
// Every key of the table ("train.lr"), in the order of docs/config.md; model.layer is
// not among them (it is the repeated key, outside the table).
std::vector<std::string> config_keys();
// The effect of `key`; the layer list (model.layer, "model.layer #3" as config_differences
// names it) and anything that is not a key count as changing the weights.
KeyEffect key_effect(const std::string& key);
// Keys a `train --resume` may change, because none changes the weights of the epochs to
// come or the run's records of them: exact keys ("train.epochs") and whole sections
// ("analysis.*", when every key of a section of several may change), read off the table.
// The one list that `train --help` and docs/config.md (checked by a test) print.
const std::vector<std::string>& resume_changeable_keys();
// Whether `key` ("analysis.features") may change on resume: its effect is results or nothing.
bool resume_may_change(const std::string& key);
// The entries of a config text, key -> value as written (repeated model.layer lines joined
// with "; "), read by the same Boost.Program_options path as parse_config_text, so unknown
// and repeated keys are refused naming `where` and the line; without the defaults or the
// rules that tie keys together. For comparing what configs say.
std::map<std::string, std::string> config_entries(const std::string& text, const std::string& where);
// Help text listing every key, its default and meaning.
std::string config_help();
// Parses one layer line ("conv1 conv out=32 kernel=5 stride=1 pad=2"); `where` names the
// file and line for messages.
LayerSpec parse_layer_line(const std::string& line, const std::string& where);
// The line that parse_layer_line reads back to the same spec.
std::string format_layer_line(const LayerSpec& spec);

}  // namespace ds
