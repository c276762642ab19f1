// Reads a run's configuration: defaults, then an INI file read with Boost.Program_options,
// then `--section.key value` overrides from the command line, and checks every value and
// every cross-key rule (snapshot epochs cut to train.epochs, a path for non-default
// datasets, the model ending in fc). One table, keys(), drives the Boost option list, the
// conversion of each value, the effective-config text, the help and what changing each key
// changes (the resume rule, compare's settings check), so they cannot drift. The table is
// this stage's sections' keys (builtin_keys) with the sections a higher stage registered
// (config_section.hpp: the analyses' [invariance], [occlusion], ...) placed before [health].
//
// Boost.PO gives no line numbers, so the file is first walked here with Boost's own rules
// ('#' comments, [section] prefixes, key = value) to find the line of every entry; that
// walk also refuses unknown and repeated keys with the line in the message. No Boost
// exception leaves this file. Shapes are not checked here: the input shape comes from
// the dataset, so infer_shapes runs where the dataset is loaded.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "deconvscope/config/config.hpp"
#include "deconvscope/config/config_section.hpp"
#include "deconvscope/config/config_value.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/regular_file.hpp"
#include "deconvscope/core/nearest.hpp"
#include "text_util.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace ds {

namespace {

// Largest config file read: the biggest shipped config is under 4 KiB.
constexpr uint64_t kMaxConfigBytes = 1u << 20;
constexpr size_t kMaxLayers = 1000;

using config_detail::format_float;
using config_detail::parse_float;
using config_detail::parse_int;
using config_detail::parse_uint64;
using config_detail::kMaxNameLength;
using config_detail::quote;
using config_detail::split;
using config_detail::trim;

const char* kDefaultFashionPath = "/usr/share/datasets/fashion-mnist";
const char* kLayerKey = "model.layer";
const char* kKeysHint = "docs/config.md lists every key";

// The zfnet-mini benchmark network (docs/benchmark.md), used when a config
// has no [model] section so that a bare `deconvscope train` runs.
const char* const kDefaultNetwork[] = {
    "conv1 conv out=32 kernel=5 stride=1 pad=2",
    "relu1 relu",
    "pool1 maxpool kernel=3 stride=2 pad=1",
    "norm1 lrn size=5 alpha=1e-4 beta=0.75 k=2",
    "conv2 conv out=64 kernel=5 stride=1 pad=2",
    "relu2 relu",
    "pool2 maxpool kernel=3 stride=2 pad=1",
    "norm2 lrn size=5 alpha=1e-4 beta=0.75 k=2",
    "conv3 conv out=96 kernel=3 stride=1 pad=1",
    "relu3 relu",
    "conv4 conv out=96 kernel=3 stride=1 pad=1",
    "relu4 relu",
    "conv5 conv out=64 kernel=3 stride=1 pad=1",
    "relu5 relu",
    "pool5 maxpool kernel=3 stride=2 pad=0",
    "fc6 fc out=256",
    "relu6 relu",
    "drop6 dropout rate=0.5",
    "fc7 fc out=256",
    "relu7 relu",
    "drop7 dropout rate=0.5",
    "fc8 fc out=10",
};

// ---- value conversions (config_value.hpp): each throws Error(config) at `where` ----

using config_value::bad_value;
using config_value::bool_text;
using config_value::join;
using config_value::to_bool;
using config_value::to_epoch_list;
using config_value::to_float;
using config_value::to_int;
using config_value::to_int64;
using config_value::to_name_list;
using config_value::to_text;

// The value of `choices` whose name (name_of) is v; the message lists every name.
template <class E>
E to_choice(const std::string& v, const std::string& where, std::initializer_list<E> choices,
            const char* (*name_of)(E)) {
  const std::string s = trim(v);
  for (E c : choices)
    if (s == name_of(c)) return c;
  std::string list;
  for (E c : choices) list += (list.empty() ? "" : " | ") + std::string(name_of(c));
  bad_value(where, "one of " + list, quote(v));
}

// The enums of config.hpp, named by their to_string.
template <class E>
E to_choice(const std::string& v, const std::string& where, std::initializer_list<E> choices) {
  return to_choice<E>(v, where, choices, [](E e) { return to_string(e); });
}

// ---- the key table: the built-in keys, and the sections a higher stage registers ----

constexpr KeyEffect kWeights = KeyEffect::weights;
constexpr KeyEffect kTrainingLog = KeyEffect::training_log;
constexpr KeyEffect kResults = KeyEffect::results;
constexpr KeyEffect kNothing = KeyEffect::nothing;

// The keys of the sections this stage owns, in section order; the [model] section
// (repeated `layer` lines) is written after [data], the registered sections before [health].
const std::vector<KeySpec>& builtin_keys() {
  static const std::vector<KeySpec> table = {
      {"run.name", kNothing, nullptr, "name of the run; at most 64 letters, digits, '.', '_' and '-'",
       [](const Config& c) { return c.run.name; },
       [](Config& c, const std::string& v, const std::string& w) {
         std::string s = trim(v);
         bool ok = !s.empty();
         for (char ch : s)
           ok = ok && ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                       ch == '.' || ch == '_' || ch == '-');
         if (!ok) bad_value(w, "a non-empty name of letters, digits, '.', '_' and '-'", quote(v));
         if (s.size() > kMaxNameLength)
           bad_value(w, "a name of at most " + std::to_string(kMaxNameLength) + " characters", quote(s));
         c.run.name = s;
       }},
      {"run.dir", kNothing, "runs/<run.name>", "folder for snapshots, logs and analyses",
       [](const Config& c) { return c.run.dir; },
       [](Config& c, const std::string& v, const std::string& w) { c.run.dir = to_text(v, w); }},
      {"run.seed", kWeights, nullptr, "seed of every random choice (init, shuffling, dropout, augmentation)",
       [](const Config& c) { return std::to_string(c.run.seed); },
       [](Config& c, const std::string& v, const std::string& w) {
         unsigned long long x = 0;
         if (!parse_uint64(v, x)) bad_value(w, "an integer >= 0", quote(v));
         c.run.seed = x;
       }},
      {"run.threads", kNothing, nullptr, "OpenMP threads for oneDNN and the data pipeline",
       [](const Config& c) { return std::to_string(c.run.threads); },
       [](Config& c, const std::string& v, const std::string& w) { c.run.threads = to_int(v, w, 1, 1024); }},

      {"data.dataset", kWeights, nullptr, "fashion-mnist | mnist | cifar10 | folder (class subfolders of images)",
       [](const Config& c) { return std::string(to_string(c.data.dataset)); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.data.dataset = to_choice(v, w, {DatasetKind::fashion_mnist, DatasetKind::mnist, DatasetKind::cifar10,
                                           DatasetKind::folder});
       }},
      {"data.path", kWeights, "/usr/share/datasets/fashion-mnist for fashion-mnist; required otherwise",
       "file or folder the dataset is read from",
       [](const Config& c) { return c.data.path; },
       [](Config& c, const std::string& v, const std::string& w) { c.data.path = to_text(v, w); }},
      {"data.train_limit", kWeights, nullptr, "use the first N training images; 0 = all",
       [](const Config& c) { return std::to_string(c.data.train_limit); },
       [](Config& c, const std::string& v, const std::string& w) { c.data.train_limit = to_int64(v, w, 0); }},
      {"data.test_limit", kWeights, nullptr, "use the first N test images; 0 = all",
       [](const Config& c) { return std::to_string(c.data.test_limit); },
       [](Config& c, const std::string& v, const std::string& w) { c.data.test_limit = to_int64(v, w, 0); }},
      {"data.resize", kWeights, nullptr, "resize images to N x N; 0 = keep their size",
       [](const Config& c) { return std::to_string(c.data.resize); },
       [](Config& c, const std::string& v, const std::string& w) { c.data.resize = to_int(v, w, 0, 4096); }},
      {"data.crop_pad", kWeights, nullptr, "augmentation: zero-pad by N then crop randomly back to size; 0 = off",
       [](const Config& c) { return std::to_string(c.data.crop_pad); },
       [](Config& c, const std::string& v, const std::string& w) { c.data.crop_pad = to_int(v, w, 0, 1024); }},
      {"data.flip", kWeights, nullptr, "augmentation: random horizontal flip",
       [](const Config& c) { return bool_text(c.data.flip); },
       [](Config& c, const std::string& v, const std::string& w) { c.data.flip = to_bool(v, w); }},
      {"data.streaming", kNothing, nullptr,
       "folder: auto (stream when the decoded set exceeds data.memory_budget_mb) | on (decode images on demand "
       "by reader threads) | off (hold every image in memory)",
       [](const Config& c) { return std::string(to_string(c.data.streaming)); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.data.streaming = to_choice(v, w, {Streaming::automatic, Streaming::on, Streaming::off});
       }},
      {"data.memory_budget_mb", kNothing, nullptr, "folder, streaming = auto: stream when the decoded images would take more MiB",
       [](const Config& c) { return std::to_string(c.data.memory_budget_mb); },
       [](Config& c, const std::string& v, const std::string& w) { c.data.memory_budget_mb = to_int64(v, w, 1); }},
      {"data.reader_threads", kNothing, nullptr, "streaming: threads that decode, resize and augment images",
       [](const Config& c) { return std::to_string(c.data.reader_threads); },
       [](Config& c, const std::string& v, const std::string& w) { c.data.reader_threads = to_int(v, w, 1, 256); }},
      {"data.prefetch_batches", kNothing, nullptr, "streaming: batches decoded ahead of the trainer (the queue's bound)",
       [](const Config& c) { return std::to_string(c.data.prefetch_batches); },
       [](Config& c, const std::string& v, const std::string& w) { c.data.prefetch_batches = to_int(v, w, 1, 64); }},
      {"data.bad_images", kWeights, nullptr,
       "folder: stop (an image OpenCV cannot decode is an error naming it) | skip (leave it out, count it in the log)",
       [](const Config& c) { return std::string(to_string(c.data.bad_images)); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.data.bad_images = to_choice(v, w, {BadImages::stop, BadImages::skip});
       }},

      {"model.conv_algorithm", kWeights, nullptr,
       "auto (time direct and Winograd per conv layer and pass when the network is built; keep the faster) "
       "| direct | winograd (where oneDNN has a kernel: 3x3 stride 1, AVX-512; direct elsewhere)",
       [](const Config& c) { return std::string(conv_algorithm_name(c.conv_algorithm)); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.conv_algorithm = to_choice(v, w, {ConvAlgorithm::automatic, ConvAlgorithm::direct, ConvAlgorithm::winograd},
                                      conv_algorithm_name);
       }},
      {"model.conv_algorithms", kNothing, "(empty)",
       "what model.conv_algorithm = auto chose per conv layer and pass when the run started (conv3=winograd or "
       "conv3=winograd/winograd/direct for forward/backward data/backward weights); train writes it into the run's "
       "config.cfg so a resume and the analyses compute as the first start did; a listed layer takes it over "
       "model.conv_algorithm",
       [](const Config& c) { return format_resolved_convs(c.conv_algorithms); },
       [](Config& c, const std::string& v, const std::string& w) { c.conv_algorithms = parse_resolved_convs(v, w); }},

      {"train.epochs", kResults, nullptr, "passes over the training set",
       [](const Config& c) { return std::to_string(c.train.epochs); },
       [](Config& c, const std::string& v, const std::string& w) { c.train.epochs = to_int(v, w, 1, 1000000); }},
      {"train.batch", kWeights, nullptr, "images per SGD step",
       [](const Config& c) { return std::to_string(c.train.batch); },
       [](Config& c, const std::string& v, const std::string& w) { c.train.batch = to_int(v, w, 1, 1 << 20); }},
      {"train.lr", kWeights, nullptr, "learning rate at the start",
       [](const Config& c) { return format_float(c.train.lr); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.train.lr = to_float(v, w, "a number > 0", [](float x) { return x > 0; });
       }},
      {"train.momentum", kWeights, nullptr, "SGD momentum",
       [](const Config& c) { return format_float(c.train.momentum); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.train.momentum = to_float(v, w, "a number in [0, 1)", [](float x) { return x >= 0 && x < 1; });
       }},
      {"train.weight_decay", kWeights, nullptr, "L2 weight decay added to the gradient of weights",
       [](const Config& c) { return format_float(c.train.weight_decay); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.train.weight_decay = to_float(v, w, "a number >= 0", [](float x) { return x >= 0; });
       }},
      {"train.lr_schedule", kWeights, nullptr, "none | step (x lr_gamma every lr_step epochs) | plateau (x lr_gamma when the test loss stalls)",
       [](const Config& c) { return std::string(to_string(c.train.lr_schedule)); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.train.lr_schedule = to_choice(v, w, {LrSchedule::none, LrSchedule::step, LrSchedule::plateau});
       }},
      {"train.lr_step", kWeights, nullptr, "step schedule: epochs between lr drops; 0 = never",
       [](const Config& c) { return std::to_string(c.train.lr_step); },
       [](Config& c, const std::string& v, const std::string& w) { c.train.lr_step = to_int(v, w, 0); }},
      {"train.lr_gamma", kWeights, nullptr, "factor the lr is multiplied by at each drop",
       [](const Config& c) { return format_float(c.train.lr_gamma); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.train.lr_gamma = to_float(v, w, "a number in (0, 1]", [](float x) { return x > 0 && x <= 1; });
       }},
      {"train.lr_patience", kWeights, nullptr, "plateau schedule: epochs without test-loss improvement before a drop",
       [](const Config& c) { return std::to_string(c.train.lr_patience); },
       [](Config& c, const std::string& v, const std::string& w) { c.train.lr_patience = to_int(v, w, 1); }},
      {"train.renorm_radius", kWeights, nullptr, "conv filters whose RMS exceeds this are scaled back to it (the paper's 1e-1); 0 = off",
       [](const Config& c) { return format_float(c.train.renorm_radius); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.train.renorm_radius = to_float(v, w, "a number >= 0", [](float x) { return x >= 0; });
       }},
      {"train.init", kWeights, nullptr, "gaussian (std init_std, as the paper) | he (std sqrt(2/fan_in))",
       [](const Config& c) { return std::string(to_string(c.train.init)); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.train.init = to_choice(v, w, {InitScheme::gaussian, InitScheme::he});
       }},
      {"train.init_std", kWeights, nullptr, "std of the gaussian init (at most 10)",
       [](const Config& c) { return format_float(c.train.init_std); },
       // Bounded: 3e38 draws infinite weights, and anything near 10 already overflows a
       // ZFNet-sized forward pass; the paper uses 1e-2.
       [](Config& c, const std::string& v, const std::string& w) {
         c.train.init_std = to_float(v, w, "a number in (0, 10]", [](float x) { return x > 0 && x <= 10; });
       }},
      {"train.probe_batch", kTrainingLog, nullptr, "images in the fixed batch used to count dead features each epoch",
       [](const Config& c) { return std::to_string(c.train.probe_batch); },
       [](Config& c, const std::string& v, const std::string& w) { c.train.probe_batch = to_int(v, w, 1, 1 << 20); }},
      {"train.precision", kWeights, nullptr,
       "f32 | bf16: bfloat16 activations, weights and gradients in the compute, f32 master weights, "
       "momentum, loss and snapshots (needs a CPU with AVX512_BF16)",
       [](const Config& c) { return std::string(precision_name(c.train.precision)); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.train.precision = to_choice(v, w, {Precision::f32, Precision::bf16}, precision_name);
       }},

      {"snapshot.epochs", kResults, nullptr,
       "increasing epochs after which weights are saved; 0 = the initialisation. Epochs past "
       "train.epochs are dropped, and train.epochs itself is always added",
       [](const Config& c) { return join(c.snapshot.epochs); },
       [](Config& c, const std::string& v, const std::string& w) { c.snapshot.epochs = to_epoch_list(v, w); }},

      {"analysis.layers", kResults, "(empty: every conv layer)", "comma list of conv layers to analyse",
       [](const Config& c) { return join(c.analysis.layers); },
       [](Config& c, const std::string& v, const std::string& w) { c.analysis.layers = to_name_list(v, w); }},
      {"analysis.features", kResults, nullptr,
       "features per layer followed through the snapshots: N = N of those alive in the last snapshot, "
       "spread evenly; all = every one; a comma list such as 3,17,40 (one feature: 5,) = those",
       [](const Config& c) {
         if (!c.analysis.feature_list.empty())
           return join(c.analysis.feature_list) + (c.analysis.feature_list.size() == 1 ? "," : "");
         return c.analysis.features < 0 ? std::string("all") : std::to_string(c.analysis.features);
       },
       [](Config& c, const std::string& v, const std::string& w) {
         long long x = 0;
         c.analysis.feature_list.clear();
         if (v.find(',') != std::string::npos) {
           std::vector<std::string> parts = split(v, ',');
           if (parts.size() > 1 && parts.back().empty()) parts.pop_back();  // "5," = feature 5
           for (const std::string& part : parts) {
             if (!parse_int(part, x) || x < 0 || x > std::numeric_limits<int>::max())
               bad_value(w, "a comma list of feature indices >= 0 such as 3,17,40", quote(part) + " in " + quote(trim(v)));
             if (std::count(c.analysis.feature_list.begin(), c.analysis.feature_list.end(), int(x)))
               bad_value(w, "each feature once", quote(part) + " twice in " + quote(trim(v)));
             c.analysis.feature_list.push_back(int(x));
           }
         } else if (trim(v) == "all") c.analysis.features = -1;
         else if (parse_int(v, x) && x >= 1 && x <= 1000000) c.analysis.features = int(x);
         else bad_value(w, "an integer >= 1, all, or a comma list of feature indices such as 3,17,40", quote(v));
       }},
      {"analysis.probe", kResults, nullptr, "train | test: the split searched for the strongest activations",
       [](const Config& c) { return std::string(to_string(c.analysis.probe)); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.analysis.probe = to_choice(v, w, {ProbeSplit::train, ProbeSplit::test});
       }},
      {"analysis.probe_limit", kResults, nullptr,
       "search the first N images of that split; 0 = those the run used (data.train_limit or data.test_limit)",
       [](const Config& c) { return std::to_string(c.analysis.probe_limit); },
       [](Config& c, const std::string& v, const std::string& w) { c.analysis.probe_limit = to_int64(v, w, 0); }},
      {"analysis.topk", kResults, nullptr, "strongest activations kept per feature",
       [](const Config& c) { return std::to_string(c.analysis.topk); },
       [](Config& c, const std::string& v, const std::string& w) { c.analysis.topk = to_int(v, w, 1, 10000); }},
      {"analysis.topk_epochs", kResults, "(empty: the last snapshot)", "comma list of snapshot epochs to compute the top-k grids for; each must be in snapshot.epochs",
       [](const Config& c) { return join(c.analysis.topk_epochs); },
       [](Config& c, const std::string& v, const std::string& w) { c.analysis.topk_epochs = to_epoch_list(v, w); }},
      {"analysis.live", kResults, nullptr, "the trainer analyses each snapshot as soon as it is written",
       [](const Config& c) { return bool_text(c.analysis.live); },
       [](Config& c, const std::string& v, const std::string& w) { c.analysis.live = to_bool(v, w); }},
      {"analysis.batch", kResults, nullptr, "images per forward pass during analysis",
       [](const Config& c) { return std::to_string(c.analysis.batch); },
       [](Config& c, const std::string& v, const std::string& w) { c.analysis.batch = to_int(v, w, 1, 1 << 20); }},

      // [health]: the bounds are those the health flags had before they became these keys.
      {"health.probe", kResults, nullptr,
       "images scanned for fire rates: auto (the images deconvscope analyze searched, recorded in "
       "analysis/analysis.h5; without an analysis the run's own: analysis.probe_limit, else data.train_limit) "
       "or the first N images of the analysis.probe split (0 = all)",
       [](const Config& c) { return c.health.probe < 0 ? std::string("auto") : std::to_string(c.health.probe); },
       [](Config& c, const std::string& v, const std::string& w) {
         long long x = 0;
         if (trim(v) == "auto") c.health.probe = -1;
         else if (parse_int(v, x) && x >= 0) c.health.probe = x;
         else bad_value(w, "auto or an integer >= 0", quote(v));
       }},
      {"health.dominating_ratio", kResults, nullptr,
       "a filter whose RMS is above this x the layer's median RMS is dominating",
       [](const Config& c) { return format_float(c.health.dominating_ratio); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.health.dominating_ratio = to_float(v, w, "a number in (1, 1e6]", [](float x) { return x > 1 && x <= 1e6f; });
       }},
      {"health.collapsed_ratio", kResults, nullptr,
       "a filter whose RMS is below this x the layer's median RMS is collapsed, i.e. dead",
       [](const Config& c) { return format_float(c.health.collapsed_ratio); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.health.collapsed_ratio = to_float(v, w, "a number in (0, 1]", [](float x) { return x > 0 && x <= 1; });
       }},
      {"health.redundant_correlation", kResults, nullptr,
       "a filter whose max |cosine| with another filter of its layer is at or above this is redundant",
       [](const Config& c) { return format_float(c.health.redundant_correlation); },
       [](Config& c, const std::string& v, const std::string& w) {
         c.health.redundant_correlation = to_float(v, w, "a number in (0, 1]", [](float x) { return x > 0 && x <= 1; });
       }},
  };
  return table;
}

std::string section_of(const std::string& key) { return key.substr(0, key.find('.')); }

// The registered sections go into the table just before this built-in section.
const char* const kRegisteredBefore = "health";

// Guards the registered sections and the tables built from them.
std::mutex& table_mutex() {
  static std::mutex m;
  return m;
}

// The sections registered so far (config_section.hpp), in registration order; a deque, so
// that a section's defaults stay where find_config_section pointed when more are added.
std::deque<RegisteredSection>& registered() {
  static std::deque<RegisteredSection> all;
  return all;
}

bool may_change_on_resume(KeyEffect e) {
  switch (e) {
    case KeyEffect::weights:
    case KeyEffect::training_log: return false;
    case KeyEffect::results:
    case KeyEffect::nothing: return true;
  }
  return false;
}

// The key table as of one set of registered sections, and what is read off it once.
struct KeyTable {
  std::vector<KeySpec> keys;              // built-in and registered, in the order of docs/config.md
  po::options_description options;        // every key as a string option, for Boost
  std::vector<std::string> resume_keys;   // resume_changeable_keys()
};

// Keys a resume may change: exact keys, and "analysis.*" for a section of several keys that
// may all change (it says more than its eight keys); a section of one key is named by it.
std::vector<std::string> resume_keys_of(const std::vector<KeySpec>& all) {
  std::vector<std::string> out;
  for (size_t i = 0; i < all.size();) {
    const std::string sec = section_of(all[i].key);
    size_t end = i;
    bool every = true;
    for (; end < all.size() && section_of(all[end].key) == sec; ++end)
      every = every && may_change_on_resume(all[end].effect);
    if (every && end - i > 1) {
      out.push_back(sec + ".*");
    } else {
      for (size_t j = i; j < end; ++j)
        if (may_change_on_resume(all[j].effect)) out.push_back(all[j].key);
    }
    i = end;
  }
  return out;
}

// Called with table_mutex held.
std::unique_ptr<KeyTable> build_key_table() {
  auto t = std::make_unique<KeyTable>();
  bool placed = false;
  auto place_registered = [&] {
    for (const RegisteredSection& s : registered()) t->keys.insert(t->keys.end(), s.keys.begin(), s.keys.end());
    placed = true;
  };
  for (const KeySpec& k : builtin_keys()) {
    if (!placed && section_of(k.key) == kRegisteredBefore) place_registered();
    t->keys.push_back(k);
  }
  if (!placed) place_registered();
  // Values are converted and checked by the table, with better messages than Boost's.
  for (const KeySpec& k : t->keys) t->options.add_options()(k.key.c_str(), po::value<std::string>());
  t->options.add_options()(kLayerKey, po::value<std::vector<std::string>>());
  t->resume_keys = resume_keys_of(t->keys);
  return t;
}

// The table, built again when a section was registered since the last was built. Every
// table is kept: Boost's parsed_options keep a pointer to the options they were read with.
const KeyTable& key_table() {
  static std::vector<std::unique_ptr<KeyTable>> tables;
  static size_t sections_built = 0;
  std::lock_guard<std::mutex> lock(table_mutex());
  if (tables.empty() || sections_built != registered().size()) {
    tables.push_back(build_key_table());
    sections_built = registered().size();
  }
  return *tables.back();
}

const std::vector<KeySpec>& keys() { return key_table().keys; }

const KeySpec* find_key(const std::string& key) {
  for (const auto& k : keys())
    if (key == k.key) return &k;
  return nullptr;
}

bool known_key(const std::string& key) { return key == kLayerKey || find_key(key) != nullptr; }

// "did you mean train.epochs?" for a misspelt or cut-short key, or one written outside its
// section (compared with the part after the dot then); nothing when no key is close.
std::string suggest(const std::string& unknown) {
  std::vector<std::string> all;
  for (const auto& k : keys()) all.push_back(k.key);
  all.push_back(kLayerKey);
  const bool dotted = unknown.find('.') != std::string::npos;
  std::vector<std::string> targets;
  for (const auto& k : all) targets.push_back(dotted ? k : k.substr(k.find('.') + 1));
  const std::string best = nearest_word(unknown, targets);
  if (best.empty()) return {};
  // The full key of the nearest target (the part after the dot can repeat: run.name?).
  const size_t i = size_t(std::find(targets.begin(), targets.end(), best) - targets.begin());
  return "did you mean " + all[i] + "?";
}

[[noreturn]] void unknown_key(const std::string& where, const std::string& key) {
  throw Error(ErrorKind::config, where, "unknown key " + key + "; expected a key listed in docs/config.md",
              suggest(key));
}

// ---- where each value came from, for messages ----

struct Sources {
  std::string file;                      // config file name, or where the text came from; "" = none
  std::map<std::string, int> line_of;    // key -> line of its entry in the file
  std::vector<int> layer_lines;          // line of each model.layer entry, in order
  bool model_section = false;            // the file has a [model] section
  std::set<std::string> from_cli;        // keys given on the command line

  std::string where(const std::string& key) const {
    if (from_cli.count(key)) return "command line: --" + key;
    if (file.empty()) return "defaults: key " + key;
    auto it = line_of.find(key);
    return it == line_of.end() ? file + ": key " + key : file + ":" + std::to_string(it->second) + ": key " + key;
  }

  // "line 12" in the file, or "#3" among the command line's or built-in layers.
  std::string layer_position(size_t i) const {
    if (!from_cli.count(kLayerKey) && i < layer_lines.size()) return "line " + std::to_string(layer_lines[i]);
    return "#" + std::to_string(i + 1);
  }

  std::string layer_where(size_t i) const {
    if (from_cli.count(kLayerKey)) return "command line: --model.layer #" + std::to_string(i + 1);
    if (i < layer_lines.size()) return file + ":" + std::to_string(layer_lines[i]) + ": model.layer";
    return file + ": model.layer #" + std::to_string(i + 1);
  }
};

// Walks the INI text with Boost.PO's own rules to note the line of every entry, and
// refuses lines Boost would refuse, with their line numbers (Boost's messages have none).
void scan_ini(const std::string& text, Sources& src) {
  std::istringstream in(text);
  std::string raw, prefix;
  for (int line_no = 1; std::getline(in, raw); ++line_no) {
    std::string s = raw.substr(0, raw.find('#'));
    s = trim(s);
    if (s.empty()) continue;
    const std::string at = src.file + ":" + std::to_string(line_no);
    if (s.front() == '[' && s.back() == ']') {
      prefix = s.substr(1, s.size() - 2);
      if (prefix.empty()) throw Error(ErrorKind::config, at, expected_found("a section name such as [train]", "[]"));
      if (prefix == "model") src.model_section = true;
      if (prefix.back() != '.') prefix += '.';
      continue;
    }
    size_t eq = s.find('=');
    if (eq == std::string::npos)
      throw Error(ErrorKind::config, at, expected_found("'key = value' or '[section]'", quote(s)));
    std::string key = prefix + trim(s.substr(0, eq));
    if (!known_key(key)) unknown_key(at, key);
    if (key == kLayerKey) {
      src.layer_lines.push_back(line_no);
      continue;
    }
    auto [it, fresh] = src.line_of.emplace(key, line_no);
    if (!fresh)
      throw Error(ErrorKind::config, at + ": key " + key,
                  "given twice (first at line " + std::to_string(it->second) + "); expected it once");
  }
}

// Every key as a string option. Kept as long as the process: parsed_options keeps a
// pointer to the description.
const po::options_description& file_options() { return key_table().options; }

// Applies the values in vm over the defaults, then the rules that tie keys together.
Config build_config(const po::variables_map& vm, const Sources& src) {
  Config cfg;
  std::set<std::string> given;
  for (const auto& k : keys()) {
    if (!vm.count(k.key)) continue;
    k.set(cfg, vm[k.key].as<std::string>(), src.where(k.key));
    given.insert(k.key);
  }

  if (cfg.run.dir.empty()) cfg.run.dir = "runs/" + cfg.run.name;
  if (cfg.data.path.empty()) {
    if (cfg.data.dataset != DatasetKind::fashion_mnist)
      throw Error(ErrorKind::config, src.where(given.count("data.path") ? "data.path" : "data.dataset"),
                  expected_found("data.path for dataset " + std::string(to_string(cfg.data.dataset)), "none"),
                  "only fashion-mnist has a default path (" + std::string(kDefaultFashionPath) + ")");
    cfg.data.path = kDefaultFashionPath;
  }

  // Layers: the command line replaces the file's list whole; no list at all = the benchmark network.
  if (vm.count(kLayerKey)) {
    const auto& lines = vm[kLayerKey].as<std::vector<std::string>>();
    for (size_t i = 0; i < lines.size(); ++i) cfg.layers.push_back(parse_layer_line(lines[i], src.layer_where(i)));
  } else if (src.model_section) {
    throw Error(ErrorKind::config, src.file + ": [model]", expected_found("at least one 'layer = NAME TYPE ...' line", "none"),
                "or remove the [model] section to train the built-in zfnet-mini network");
  } else {
    for (const char* line : kDefaultNetwork) cfg.layers.push_back(parse_layer_line(line, "built-in zfnet-mini network"));
  }
  // Every layer's name goes into one HDF5 attribute of each snapshot, whose object header
  // holds at most 64 KiB: 9,010 layers trained epoch 0 and then failed to write it.
  if (cfg.layers.size() > kMaxLayers)
    throw Error(ErrorKind::config, src.layer_where(kMaxLayers),
                expected_found("at most " + std::to_string(kMaxLayers) + " layers", std::to_string(cfg.layers.size())),
                "ZFNet has 20; a longer list is most likely generated by mistake");
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < cfg.layers.size(); ++i) {
    auto [it, fresh] = index_of.emplace(cfg.layers[i].name, i);
    if (!fresh)
      throw Error(ErrorKind::config, src.layer_where(i),
                  "layer name " + cfg.layers[i].name + " is used twice (first at " + src.layer_position(it->second) +
                      "); expected unique names");
  }
  if (cfg.layers.back().type != LayerType::fc)
    throw Error(ErrorKind::config, src.layer_where(cfg.layers.size() - 1),
                expected_found("the last layer to be fc (its out is the number of classes)",
                               std::string(layer_type_name(cfg.layers.back().type)) + " layer " + cfg.layers.back().name),
                "end the model with e.g. 'layer = fc8 fc out=10'");

  // Snapshot epochs must increase. A run cut short (`--train.epochs 10` on a 64-epoch config)
  // keeps the snapshots that fall inside it, and the final epoch always gets one so analysis
  // sees the end state; the default list is treated the same way.
  const std::string snap_where = src.where("snapshot.epochs");
  auto& snaps = cfg.snapshot.epochs;
  if (snaps.empty()) bad_value(snap_where, "at least one epoch, such as 0," + std::to_string(cfg.train.epochs), "none");
  for (size_t i = 1; i < snaps.size(); ++i)
    if (snaps[i] <= snaps[i - 1])
      throw Error(ErrorKind::config, snap_where,
                  expected_found("increasing epochs without repeats",
                                 std::to_string(snaps[i - 1]) + " then " + std::to_string(snaps[i])));
  auto past_end = [&](int e) { return e > cfg.train.epochs; };
  snaps.erase(std::remove_if(snaps.begin(), snaps.end(), past_end), snaps.end());
  if (snaps.empty() || snaps.back() != cfg.train.epochs) snaps.push_back(cfg.train.epochs);
  // Top-k epochs are not dropped like snapshot epochs: an epoch the user named that no
  // snapshot will have is refused rather than silently left without its grids.
  for (int e : cfg.analysis.topk_epochs)
    if (std::find(snaps.begin(), snaps.end(), e) == snaps.end())
      throw Error(ErrorKind::config, src.where("analysis.topk_epochs"),
                  expected_found("epochs that have a snapshot (snapshot.epochs = " + join(snaps) + " with train.epochs = " +
                                     std::to_string(cfg.train.epochs) + ")",
                                 std::to_string(e)),
                  "name snapshot epochs only, or leave analysis.topk_epochs empty for the last snapshot");

  for (const std::string& name : cfg.analysis.layers) {
    auto it = index_of.find(name);
    if (it == index_of.end() || cfg.layers[it->second].type != LayerType::conv) {
      std::vector<std::string> convs;
      for (const auto& l : cfg.layers)
        if (l.type == LayerType::conv) convs.push_back(l.name);
      throw Error(ErrorKind::config, src.where("analysis.layers"),
                  expected_found("names of conv layers (" + join(convs) + ")", quote(name)));
    }
  }
  return cfg;
}

std::string effective_text(const Config& cfg) {
  std::ostringstream s;
  s << "# deconvscope effective configuration: every key with the value the run used.\n";
  std::string section;
  for (const auto& k : keys()) {
    std::string sec = section_of(k.key);
    if (sec != section) {
      if (section == "data") {
        s << "\n[model]\n";
        for (const auto& l : cfg.layers) s << "layer = " << format_layer_line(l) << "\n";
      }
      if (sec != "model") s << "\n[" << sec << "]\n";  // [model] was opened just above
      section = sec;
    }
    std::string v = k.get(cfg);
    s << k.key.substr(sec.size() + 1) << " =" << (v.empty() ? "" : " " + v) << "\n";
  }
  return s.str();
}

// Parses INI text with Boost, turning its exceptions into ours; keys were checked by scan_ini.
po::parsed_options parse_ini(const std::string& text, const Sources& src) {
  std::istringstream in(text);
  try {
    return po::parse_config_file(in, file_options(), /*allow_unregistered=*/false);
  } catch (const po::error& e) {
    throw Error(ErrorKind::config, src.file, e.what(), kKeysHint);
  }
}

Config finish(const po::variables_map& vm, const Sources& src) {
  Config cfg = build_config(vm, src);
  cfg.source = src.file;
  cfg.text = effective_text(cfg);
  return cfg;
}

// Where the shipped configs are, for the hint of a config file that cannot be read: the
// clone's configs/ when run from its root, else beside the binary, installed
// (PREFIX/bin -> PREFIX/share/doc/deconvscope/configs, CMake's install rule) or in a
// build tree (build/ -> configs/).
std::string shipped_configs_hint() {
  if (fs::exists("configs/quickstart.cfg")) return "configs/ holds the shipped configs, e.g. --config configs/quickstart.cfg";
  std::error_code ec;
  const fs::path bin = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (!ec)
    for (const fs::path& dir : {bin / ".." / DECONVSCOPE_DOCDIR / "configs", bin / ".." / "configs"}) {
      const fs::path d = dir.lexically_normal();
      if (fs::exists(d / "quickstart.cfg", ec))
        return "the shipped configs are in " + d.string() + ", e.g. --config " + (d / "quickstart.cfg").string();
    }
  return std::string("the shipped configs are in configs/ of the source and ") + DECONVSCOPE_DOCDIR +
         "/configs under the install prefix";
}

// The whole of a config file: a regular file of at most kMaxConfigBytes (/dev/zero would
// grow without end, a FIFO would block for ever), read by the one reader of such files.
std::string read_config_file(const std::string& path) {
  FileRules rules;
  rules.kind = ErrorKind::config;
  rules.what = "a config file";
  rules.max_bytes = kMaxConfigBytes;
  rules.hint = shipped_configs_hint();
  std::string text = read_regular_text(path, rules);
  // Editors on Windows start UTF-8 files with a byte order mark; it means nothing here.
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  return text;
}

}  // namespace

std::string config_text(const Config& cfg) { return effective_text(cfg); }

void register_config_section(RegisteredSection section) {
  const std::string where = "config section [" + section.name + "]";
  auto refuse = [&](const std::string& problem) {
    throw Error(ErrorKind::internal, where, problem, "each section is registered once, by its owner");
  };
  std::lock_guard<std::mutex> lock(table_mutex());
  if (section.name.empty() || section.keys.empty()) refuse("a section needs a name and keys");
  for (const KeySpec& k : builtin_keys())
    if (section_of(k.key) == section.name) refuse("the name of a built-in section");
  if (section.name == section_of(kLayerKey)) refuse("the name of a built-in section");
  for (const RegisteredSection& s : registered())
    if (s.name == section.name) refuse("registered twice");
  for (const KeySpec& k : section.keys)
    if (section_of(k.key) != section.name || k.key.size() <= section.name.size() + 1)
      refuse("key " + k.key + " outside the section");
  registered().push_back(std::move(section));
}

const std::any* find_config_section(const Config& cfg, const std::string& name) {
  auto it = cfg.sections.find(name);
  if (it != cfg.sections.end()) return &it->second;
  std::lock_guard<std::mutex> lock(table_mutex());
  for (const RegisteredSection& s : registered())
    if (s.name == name) return &s.defaults;
  return nullptr;
}

const char* to_string(DatasetKind d) {
  switch (d) {
    case DatasetKind::fashion_mnist: return "fashion-mnist";
    case DatasetKind::mnist: return "mnist";
    case DatasetKind::cifar10: return "cifar10";
    case DatasetKind::folder: return "folder";
  }
  return "?";  // not an enumerator: a cast gone wrong
}

const char* to_string(Streaming s) {
  switch (s) {
    case Streaming::automatic: return "auto";
    case Streaming::on: return "on";
    case Streaming::off: return "off";
  }
  return "?";
}

const char* to_string(BadImages b) {
  switch (b) {
    case BadImages::stop: return "stop";
    case BadImages::skip: return "skip";
  }
  return "?";
}

const char* to_string(LrSchedule s) {
  switch (s) {
    case LrSchedule::none: return "none";
    case LrSchedule::step: return "step";
    case LrSchedule::plateau: return "plateau";
  }
  return "?";
}

const char* to_string(InitScheme i) {
  switch (i) {
    case InitScheme::gaussian: return "gaussian";
    case InitScheme::he: return "he";
  }
  return "?";
}

const char* to_string(ProbeSplit p) {
  switch (p) {
    case ProbeSplit::train: return "train";
    case ProbeSplit::test: return "test";
  }
  return "?";
}

bool parse_probe_split(const std::string& text, ProbeSplit& out) {
  for (ProbeSplit p : {ProbeSplit::train, ProbeSplit::test})
    if (text == to_string(p)) {
      out = p;
      return true;
    }
  return false;
}

Config parse_config_text(const std::string& text, const std::string& where) {
  Sources src;
  src.file = where;
  scan_ini(text, src);
  po::parsed_options parsed = parse_ini(text, src);
  po::variables_map vm;
  try {
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw Error(ErrorKind::config, where, e.what(), kKeysHint);
  }
  return finish(vm, src);
}

Config load_config(const std::vector<std::string>& args) {
  po::options_description cli;
  cli.add(file_options());
  cli.add_options()("config", po::value<std::string>());
  // Bare words are collected rather than refused by Boost, whose message would not say which one.
  cli.add_options()("stray-argument", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("stray-argument", -1);
  // No guessing: `--train.ep 5` is a typo to report, not an abbreviation to accept.
  const int style = po::command_line_style::unix_style & ~po::command_line_style::allow_guessing;

  po::parsed_options cli_parsed(&cli);
  try {
    cli_parsed = po::command_line_parser(args).options(cli).positional(positional).style(style).run();
  } catch (const po::unknown_option& e) {
    std::string name = e.get_option_name();
    std::string key = name.rfind("--", 0) == 0 ? name.substr(2) : name;
    unknown_key("command line: " + name, key);
  } catch (const po::error& e) {
    throw Error(ErrorKind::config, "command line", e.what(), kKeysHint);
  }
  for (const auto& opt : cli_parsed.options)
    if (opt.string_key == "stray-argument")
      throw Error(ErrorKind::config, "command line",
                  expected_found("--config FILE and --section.key VALUE options",
                                 "stray argument " + quote(opt.value.empty() ? "" : opt.value[0])),
                  "a value with spaces needs quotes: --model.layer \"fc8 fc out=10\"");

  Sources src;
  for (const auto& opt : cli_parsed.options) src.from_cli.insert(opt.string_key);
  po::variables_map vm;
  try {
    po::store(cli_parsed, vm);
  } catch (const po::error& e) {
    throw Error(ErrorKind::config, "command line", e.what(), kKeysHint);
  }

  if (vm.count("config")) {
    src.file = vm["config"].as<std::string>();
    const std::string text = read_config_file(src.file);
    scan_ini(text, src);
    po::parsed_options file_parsed = parse_ini(text, src);
    try {
      po::store(file_parsed, vm);  // store() keeps the first value: the command line wins
    } catch (const po::error& e) {
      throw Error(ErrorKind::config, src.file, e.what(), kKeysHint);
    }
  }
  try {
    po::notify(vm);
  } catch (const po::error& e) {
    throw Error(ErrorKind::config, src.file.empty() ? "command line" : src.file, e.what(), kKeysHint);
  }
  return finish(vm, src);
}

std::vector<ConfigDifference> config_differences(const Config& a, const Config& b) {
  std::vector<ConfigDifference> out;
  bool layers_done = false;
  auto compare_layers = [&] {
    layers_done = true;
    const size_t n = std::max(a.layers.size(), b.layers.size());
    for (size_t i = 0; i < n; ++i) {
      const std::string la = i < a.layers.size() ? format_layer_line(a.layers[i]) : "(none)";
      const std::string lb = i < b.layers.size() ? format_layer_line(b.layers[i]) : "(none)";
      if (la == lb) continue;
      // The first differing line says more than the whole list; the count says the rest.
      std::string suffix;
      if (a.layers.size() != b.layers.size())
        suffix = " (" + std::to_string(a.layers.size()) + " against " + std::to_string(b.layers.size()) + " layers)";
      out.push_back({std::string(kLayerKey) + " #" + std::to_string(i + 1), quote(la) + suffix, quote(lb)});
      return;
    }
  };
  for (const auto& k : keys()) {
    // The [model] section sits between [data] and [train], as in the effective config.
    if (!layers_done && section_of(k.key) == "train") compare_layers();
    const std::string va = k.get(a), vb = k.get(b);
    if (va != vb) out.push_back({k.key, va, vb});
  }
  if (!layers_done) compare_layers();
  return out;
}

const char* to_string(KeyEffect e) {
  switch (e) {
    case KeyEffect::weights: return "weights";
    case KeyEffect::training_log: return "training_log";
    case KeyEffect::results: return "results";
    case KeyEffect::nothing: return "nothing";
  }
  return "?";
}

std::vector<std::string> config_keys() {
  std::vector<std::string> out;
  for (const auto& k : keys()) out.push_back(k.key);
  return out;
}

KeyEffect key_effect(const std::string& key) {
  const KeySpec* k = find_key(key);
  return k ? k->effect : KeyEffect::weights;
}

bool resume_may_change(const std::string& key) { return may_change_on_resume(key_effect(key)); }

const std::vector<std::string>& resume_changeable_keys() { return key_table().resume_keys; }

std::map<std::string, std::string> config_entries(const std::string& text, const std::string& where) {
  Sources src;
  src.file = where;
  scan_ini(text, src);
  std::map<std::string, std::string> out;
  for (const po::option& o : parse_ini(text, src).options) {
    std::string& v = out[o.string_key];
    for (const std::string& part : o.value) v += (v.empty() ? "" : "; ") + part;
  }
  return out;
}

std::string config_help() {
  std::ostringstream s;
  s << "Config keys. In a file: [section] then key = value ('#' starts a comment).\n"
       "On the command line: --section.key VALUE overrides the file, which overrides the defaults;\n"
       "--config FILE names the file.\n";
  const Config defaults;
  std::string section;
  for (const auto& k : keys()) {
    std::string sec = section_of(k.key);
    if (sec != section) {
      if (section == "data") {
        s << "\n[model]\n"
          << "  model.layer  (repeated, one per layer, in order; default: the zfnet-mini benchmark network)\n"
          << "      layer = NAME TYPE key=value ...   NAME: at most 64 letters, digits, '_', '-'; unique\n"
          << "      conv    out=N kernel=K [stride=1] [pad=0]   K, stride, pad: N or HxW (e.g. 5x3)\n"
          << "      maxpool kernel=K [stride=K] [pad=0]         pad < kernel\n"
          << "      relu\n"
          << "      lrn     [size=5] [alpha=1e-4] [beta=0.75] [k=2]   across channels\n"
          << "      fc      out=N            flattens its input; the last layer must be fc (out = classes)\n"
          << "      dropout [rate=0.5]       rate in [0, 1)\n"
          << "      e.g. layer = conv1 conv out=32 kernel=5 stride=1 pad=2\n";
      }
      if (sec != "model") s << "\n[" << sec << "]\n";  // [model] was opened just above
      section = sec;
    }
    std::string def = k.default_text ? k.default_text : k.get(defaults);
    s << "  " << k.key << " = " << (def.empty() ? "(empty)" : def) << "\n      " << k.meaning << "\n";
  }
  return s.str();
}

}  // namespace ds
