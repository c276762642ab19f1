// The training loop. What it guarantees:
// - bad input (config, data, shapes) is reported before anything is written;
// - the run folder is checked for room and permission before the first epoch;
// - every file lands atomically (snapshots, last.h5, metrics.csv, config.cfg);
// - a resumed run is bit-for-bit the uninterrupted one (same threads): state at each
//   epoch's end (weights, momentum, schedule, RNG) goes to last.h5;
// - SIGINT/SIGTERM stop between steps; a non-finite loss stops with the layer named;
// - a resume continues with the run's own config.cfg: a given value that would change the
//   weights is refused, naming the key and both values;
// - it says what it is doing from the start (reading data, building, evaluating), with
//   an ETA for the whole run, and warns when a layer's gradients vanish or too many of
//   its features are dead; what it says also goes to the run's train.log.
// - under mpirun (core/comm.hpp) the ranks train one model data-parallel: train.batch is
//   the global batch, each rank computes its slice with the draws (shuffle, crop, flip,
//   dropout) one process would use for those images, the gradients are summed with
//   allreduce while backward goes on, every rank applies the same update, a fingerprint
//   of the weights is compared every epoch, evaluation and the dead-feature probe are
//   split, and rank 0 alone writes and speaks. Without mpirun nothing of this runs.
// Left out: mixed precision; bit-for-bit resume on another rank count (accepted and said:
// the math is the same up to summation order, docs/scaling.md).
#include "deconvscope/train/trainer.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>

#include "deconvscope/core/comm.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/regular_file.hpp"
#include "deconvscope/core/progress.hpp"
#include "deconvscope/core/threads.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/io/atomic_file.hpp"
#include "deconvscope/io/csv.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/io/text_file.hpp"
#include "deconvscope/model/evaluate.hpp"
#include "deconvscope/model/loss.hpp"
#include "deconvscope/model/network.hpp"
#include "deconvscope/train/layer_warnings.hpp"
#include "deconvscope/train/sgd.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

// Installs SIGINT/SIGTERM handlers for the lifetime of the training loop.
class SignalScope {
 public:
  SignalScope() {
    g_stop_signal = 0;
    old_int_ = std::signal(SIGINT, on_stop_signal);
    old_term_ = std::signal(SIGTERM, on_stop_signal);
  }
  ~SignalScope() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};


bool holds_run(const RunPaths& p) {
  return fs::exists(p.config) || fs::exists(p.metrics) || fs::exists(p.last) ||
         (fs::exists(p.snapshots) && !fs::is_empty(p.snapshots));
}

// Removes only the files a run of ours writes, never anything else in the folder.
void clear_run(const RunPaths& p) {
  std::error_code ec;
  for (const auto& f : {p.config, p.metrics, p.last, p.log}) fs::remove(f, ec);
  for (const auto& d : {p.snapshots, p.analysis, p.report}) fs::remove_all(d, ec);
}

// Temporary files of ours whose writer is gone: a run killed in the middle of a write
// leaves one behind (io/atomic_file.hpp). A live writer's file is left alone.
void remove_stale_temps(const RunPaths& p) {
  for (const std::string& dir : {p.dir, p.snapshots, p.analysis, p.report}) ds::remove_stale_temps(dir);
}

std::string resumable_hint(const Config& cfg) {
  return "resume with the run's own config (" + RunPaths::of(run_dir(cfg)).config + "), or start over with --force";
}

// A resumed state must come from the same network as the config describes: its layers
// (checked before the data is read, so a finished run is checked too) ...
void check_resumable_layers(const Snapshot& s, const std::string& path, const Config& cfg) {
  const std::string hint = resumable_hint(cfg);
  if (s.layers.size() != cfg.layers.size())
    throw Error(ErrorKind::config, path + ": / attribute layers",
                "the snapshot's network differs from the config's: " +
                    expected_found(std::to_string(cfg.layers.size()) + " layers", std::to_string(s.layers.size())),
                hint);
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const std::string want = format_layer_line(cfg.layers[i]), have = format_layer_line(s.layers[i]);
    if (want != have)
      throw Error(ErrorKind::config, path + ": /layers/" + s.layers[i].name,
                  "the snapshot's layer differs from the config's: " +
                      expected_found("'" + want + "'", "'" + have + "'"),
                  hint);
  }
  if (s.optimizer.rng_state.empty())
    throw Error(ErrorKind::snapshot, path + ": /optimizer attribute rng_state",
                "no optimizer state to resume from", "start over with --force");
}

// ... and its input shape, once the dataset (and so the image size) is known.
void check_resumable_input(const Snapshot& s, const std::string& path, const Config& cfg, const InputShape& in) {
  if (s.input.channels != in.channels || s.input.height != in.height || s.input.width != in.width)
    throw Error(ErrorKind::config, path + ": / attribute input_shape",
                "the snapshot's input does not fit the dataset: " +
                    expected_found(std::to_string(in.channels) + "x" + std::to_string(in.height) + "x" +
                                       std::to_string(in.width),
                                   std::to_string(s.input.channels) + "x" + std::to_string(s.input.height) + "x" +
                                       std::to_string(s.input.width)),
                resumable_hint(cfg));
}

// Folders beside `dir` that hold a run (a config.cfg), for the hint of a --resume that
// found none in `dir`: the run meant is most often one of them (runs/quickstart).
std::string runs_beside(const std::string& dir) {
  const fs::path parent = fs::path(dir).parent_path();
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::directory_iterator it(parent.empty() ? fs::path(".") : parent, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec) && fs::exists(it->path() / "config.cfg", ec))
      found.push_back((parent.empty() ? it->path().filename() : it->path()).string());
  std::sort(found.begin(), found.end());
  std::string s;
  for (size_t i = 0; i < found.size() && i < 5; ++i) s += (i ? ", " : "") + found[i];
  if (found.size() > 5) s += ", ... (" + std::to_string(found.size()) + " in all)";
  return s;
}

// A resume continues the run in the folder with the run's own config (config.cfg). A
// given value that differs and would change the weights is refused, every such key named
// with both values; the others are taken and said. Returns the run's own train.epochs.
int check_resume_config(const RunPaths& paths, const Config& given, RunLog& log) {
  const Config stored = load_config({"--config", paths.config});
  std::string refused;
  std::vector<std::string> notes;
  for (const ConfigDifference& d : config_differences(stored, given)) {
    if (!resume_may_change(d.key)) {
      refused += (refused.empty() ? "" : "; ") + d.key + " is " + d.a + " in the run, " + d.b + " given";
    } else if (d.key == "train.epochs") {
      notes.push_back(std::string(given.train.epochs > stored.train.epochs ? "extending" : "shortening") +
                      " the run: train.epochs " + d.a + " -> " + d.b + " (config.cfg said " + d.a + ")");
    } else if (d.key == "model.conv_algorithms") {
      notes.push_back("model.conv_algorithms " + d.a + " -> " + d.b +
                      ": the weights can differ in the last digits from a run that kept its algorithms");
    } else if (d.key == "run.threads") {
      notes.push_back("run.threads " + d.a + " -> " + d.b + ": the weights can differ in the last bits from a run that "
                      "kept " + d.a + " threads");
    } else {
      notes.push_back(d.key + " " + (d.a.empty() ? "(empty)" : d.a) + " -> " + (d.b.empty() ? "(empty)" : d.b));
    }
  }
  if (!refused.empty())
    throw Error(ErrorKind::config, paths.config,
                "a resume continues the run with its own values, and the given config differs: " + refused,
                "resume with the run's own config: deconvscope train --run " + paths.dir +
                    " --resume (add --train.epochs N to extend it); other values need a new run (--run.dir elsewhere, "
                    "or --force to start over here)");
  for (const std::string& n : notes) log.say("resume: " + n);
  return stored.train.epochs;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// "1e+27", "0.0123": figures of any size in one short word.
std::string general(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Names the first layer whose weights or gradients hold a non-finite value.
std::string first_nonfinite_layer(Network& net) {
  auto bad = [](const Tensor& t) { return std::any_of(t.data.begin(), t.data.end(), [](float v) { return !std::isfinite(v); }); };
  for (size_t i = 0; i < net.size(); ++i) {
    const LayerParams& p = net.layer(i).params();
    const LayerParams& g = net.layer(i).grads();
    if (p.weights.empty()) continue;
    if (bad(p.weights) || bad(p.bias)) return "layer " + net.specs()[i].name + " (weights)";
    if (bad(g.weights) || bad(g.bias)) return "layer " + net.specs()[i].name + " (gradients)";
  }
  // Finite weights can still overflow an activation: name the first layer whose output did.
  Tensor out;
  for (size_t i = 0; i < net.size(); ++i) {
    net.read_output(int(i), out);
    if (bad(out)) return "layer " + net.specs()[i].name + " (output; its weights are finite)";
  }
  return "the loss (weights and outputs are finite)";
}

struct EpochRow {
  int epoch = 0;
  int64_t step = 0;
  float lr = 0;
  EvalResult train, val;
  double seconds = 0, images_per_s = 0;
  std::vector<UpdateStats> stats;
  std::vector<double> dead;
};

CsvRow metrics_header(const Network& net) {
  CsvRow h;
  for (const char* name : {"epoch", "step", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds",
                           "images_per_s"})
    h.text(name);
  for (size_t i = 0; i < net.size(); ++i) {
    const LayerSpec& s = net.specs()[i];
    if (!s.has_params()) continue;
    h.text(s.name + "_weight_rms").text(s.name + "_grad_rms").text(s.name + "_update_ratio");
    if (s.type == LayerType::conv) h.text(s.name + "_dead_fraction");
  }
  return h;
}

// Fixed decimals where the scale is known (loss, accuracy, seconds), 6 digits where it is not.
std::string metrics_row(const Network& net, const EpochRow& r) {
  CsvRow row;
  row.integer(r.epoch)
      .integer(r.step)
      .number(r.lr, "%.6g")
      .number(r.train.loss, "%.6f")
      .number(r.train.accuracy, "%.6f")
      .number(r.val.loss, "%.6f")
      .number(r.val.accuracy, "%.6f")
      .number(r.seconds, "%.3f")
      .number(r.images_per_s, "%.1f");
  for (size_t i = 0; i < net.size(); ++i) {
    const LayerSpec& s = net.specs()[i];
    if (!s.has_params()) continue;
    const UpdateStats u = i < r.stats.size() ? r.stats[i] : UpdateStats{};
    const double ratio = u.weight_rms > 0 ? u.update_rms / u.weight_rms : 0;
    row.number(u.weight_rms, "%.6g").number(u.grad_rms, "%.6g").number(ratio, "%.6g");
    if (s.type == LayerType::conv) row.number(i < r.dead.size() ? r.dead[i] : 0.0, "%.4f");
  }
  return row.line() + "\n";
}

std::string rng_to_string(const std::mt19937_64& rng) {
  std::ostringstream s;
  s << rng;
  return s.str();
}

Snapshot make_snapshot(const Config& cfg, Network& net, const Normalization& norm, const EpochRow& row,
                       const OptimizerState& opt) {
  Snapshot s;
  s.epoch = row.epoch;
  s.step = row.step;
  s.config = cfg.text;
  s.input = net.input();
  s.num_classes = net.num_classes();
  s.input_mean = norm.mean;
  s.input_std = norm.std;
  s.train_loss = float(row.train.loss);
  s.train_accuracy = float(row.train.accuracy);
  s.val_loss = float(row.val.loss);
  s.val_accuracy = float(row.val.accuracy);
  s.layers = net.specs();
  s.params = net.export_params();
  s.optimizer = opt;
  return s;
}

// Rows of an existing metrics.csv whose epoch is at most `upto` (for resume).
std::string metrics_rows_upto(const std::string& path, int upto) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !std::filesystem::is_symlink(path, ec)) return {};  // written afresh
  FileRules rules;
  rules.kind = ErrorKind::snapshot;
  rules.what = "metrics.csv";
  rules.max_bytes = kMaxTextFileBytes;
  rules.hint = "metrics.csv is the run's own table of epochs; move it away to start it afresh";
  std::istringstream f(read_regular_text(path, rules));
  std::string line, out;
  bool header = true;
  while (std::getline(f, line)) {
    if (header) { header = false; continue; }
    if (line.empty()) continue;
    if (std::atoi(line.c_str()) <= upto) out += line + "\n";
  }
  return out;
}


// ---- The job's ranks (core/comm.hpp); one process is a group of one. ----

// train.batch (at most the training set) is the global batch, split evenly across ranks.
struct BatchSplit {
  int global = 0;  // images per step over all ranks
  int local = 0;   // images per step on this rank
  int first = 0;   // this rank's first image in each global batch
};

BatchSplit split_batch(const Config& cfg, const Comm& comm, int64_t n_train) {
  BatchSplit b;
  b.global = int(std::min<int64_t>(cfg.train.batch, n_train));
  if (b.global % comm.size() != 0)
    throw Error(ErrorKind::config, (cfg.source.empty() ? "" : cfg.source + ": ") + "key train.batch",
                "the global batch must split evenly across the " + std::to_string(comm.size()) + " MPI ranks: " +
                    expected_found("a multiple of " + std::to_string(comm.size()), std::to_string(b.global)) +
                    (b.global < cfg.train.batch ? " (train.batch is capped at the training set's size)" : ""),
                "set train.batch to a multiple of the rank count, or choose mpirun -np to divide it");
  b.local = b.global / comm.size();
  b.first = comm.rank() * b.local;
  return b;
}

// Images of a set of `total` this rank evaluates: whole batches of the network's.
Share my_share(const Comm& comm, const Network& net, int64_t total) {
  return share_of_batches(total, net.batch(), comm.rank(), comm.size());
}

// Loss and accuracy over all of d, each rank evaluating its share and the sums added. One
// process calls evaluate() itself, so its figures stay what they were to the last bit.
EvalResult evaluate_shared(Comm& comm, Network& net, const Dataset& d, const Normalization& norm, Progress* bar) {
  if (!comm.distributed()) return evaluate(net, d, norm, 0, bar);
  const int64_t total = int64_t(d.size());
  const Share share = my_share(comm, net, total);
  const EvalSums s = evaluate_sums(net, d, norm, share.first, share.count, bar);
  double loss = s.loss_sum;
  int64_t correct = s.correct;
  comm.allreduce_sum(&loss, 1);
  comm.allreduce_sum(&correct, 1);
  EvalResult r;
  r.count = total;
  r.loss = total ? loss / double(total) : 0;
  r.accuracy = total ? double(correct) / double(total) : 0;
  return r;
}

// Per conv layer: fraction of feature maps that are zero at every position of every
// image of the probe batch. The probe is split across the ranks and the counts added.
std::vector<double> dead_fractions(Comm& comm, Network& net, const Dataset& d, const Normalization& norm,
                                   int64_t probe) {
  std::vector<int> convs;
  for (size_t i = 0; i < net.size(); ++i)
    if (net.specs()[i].type == LayerType::conv) convs.push_back(int(i));
  std::vector<double> out(net.size(), 0.0);
  const int64_t total = std::min<int64_t>(probe, int64_t(d.size()));
  if (total <= 0) return out;
  const Share share = my_share(comm, net, total);
  std::vector<std::vector<int64_t>> fired = fire_counts(net, d, norm, share.first, share.count, convs);
  for (size_t l = 0; l < convs.size(); ++l) {
    comm.allreduce_sum(fired[l].data(), fired[l].size());
    out[size_t(convs[l])] = double(std::count(fired[l].begin(), fired[l].end(), int64_t(0))) /
                            double(std::max<size_t>(1, fired[l].size()));
  }
  return out;
}

// Stops every rank with a clear error when the ranks' weights differ (a fingerprint of
// every weight and bias compared across them). Nothing to compare in one process.
void check_ranks_agree(Comm& comm, Network& net, const std::string& what) {
  if (!comm.distributed()) return;
  uint64_t h = fingerprint(nullptr, 0);
  for (size_t i = 0; i < net.size(); ++i) {
    const LayerParams& p = net.layer(i).params();
    h = fingerprint(p.weights.data.data(), p.weights.data.size(), h);
    h = fingerprint(p.bias.data.data(), p.bias.data.size(), h);
  }
  comm.check_agreement(h, what);
}

// ---- One training run, step by step. ----

// What a resume starts from: the newest complete state of the run folder.
struct ResumePoint {
  Snapshot state;
  std::string from;
  bool found = false;
  bool refresh_last = false;  // from a snapshot newer than last.h5
};

ResumePoint find_resume_point(const RunPaths& paths, RunLog& log) {
  ResumePoint r;
  std::vector<std::pair<int, std::string>> found;
  if (fs::exists(paths.snapshots)) found = list_snapshots(paths.snapshots);
  const std::string newest = found.empty() ? "" : found.back().second;
  const int newest_epoch = found.empty() ? -1 : found.back().first;
  // Whatever is there under the name, a dangling symlink or a FIFO included, is read and
  // so refused naming it, rather than passed over for an older snapshot.
  std::error_code ec;
  if (fs::exists(fs::symlink_status(paths.last, ec))) {
    Snapshot last = read_snapshot(paths.last);
    if (last.epoch >= newest_epoch) {
      r.state = std::move(last);
      r.from = paths.last;
      r.found = true;
    }
  }
  if (!r.found && !newest.empty()) {
    // Killed between the snapshot and last.h5 of the same epoch: the snapshot is newer.
    r.state = read_snapshot(newest);
    r.from = newest;
    r.found = true;
    r.refresh_last = true;
  }
  // Nothing complete yet (killed before the first state landed): starting over is exactly
  // what the interrupted run would have done.
  if (!r.found) log.say("nothing to resume in " + paths.dir + " (no snapshot and no last.h5): starting from epoch 0");
  return r;
}

// Everything one run holds from its start to its end.
struct Run {
  const Config& cfg;
  const TrainOptions& opt;
  RunPaths paths;
  Comm& comm;
  RunLog log;
  std::string resume_hint;
  DataSplits data;
  int64_t n_train = 0;
  BatchSplit batch;
  std::unique_ptr<Network> net;
  Normalization norm;
  std::set<int> snap_epochs;
  int run_epochs = 0;  // the epochs the run was configured for (its own config.cfg)
  ResumePoint resume;

  // The state an epoch's end saves to last.h5, for a bit-for-bit resume.
  OptimizerState state;
  std::vector<LayerParams> momentum;
  std::mt19937_64 rng;
  int64_t step = 0;
  int start_epoch = 0;
  std::string metrics_text;

  double eval_seconds = 0;    // the latest evaluation after an epoch (val set and probe), for the ETA
  double epochs_seconds = 0;  // epochs trained by this process, evaluation included
  int epochs_timed = 0;
  LayerWarnings layer_warnings;
  std::vector<double> last_dead;  // the latest epoch's dead fractions, for the closing summary

  Run(const Config& c, const TrainOptions& o, Comm& cm) : cfg(c), opt(o), paths(RunPaths::of(run_dir(c))), comm(cm) {}
  int64_t probe() const { return std::min<int64_t>(cfg.train.probe_batch, n_train); }
};

void stop_if_signalled(const Run& run, const std::string& when) {
  if (g_stop_signal)
    throw Error(ErrorKind::interrupted, run.paths.dir, "stopped by signal " + std::to_string(int(g_stop_signal)) + " " + when,
                run.resume_hint);
}

void read_training_data(Run& run) {
  const Config& cfg = run.cfg;
  // Reading (and resizing) a large dataset takes a while: say so, and how long it took.
  run.log.say("reading " + std::string(to_string(cfg.data.dataset)) + " from " + cfg.data.path +
              (cfg.data.resize > 0 ? " (resizing to " + std::to_string(cfg.data.resize) + "x" +
                                         std::to_string(cfg.data.resize) + ")"
                                   : std::string()) +
              " ...");
  const auto t_read = std::chrono::steady_clock::now();
  try {
    run.data = load_dataset(cfg.data);
  } catch (const Error& e) {
    // A data.* value the loader refuses ("key data.dataset") is a line of the config file.
    if (e.kind() != ErrorKind::config || cfg.source.empty()) throw;
    throw Error(e.kind(), cfg.source + ": " + e.where(), e.problem(), e.hint());
  }
  for (const std::string& note : run.data.notes) run.log.say(note);
  const Dataset& train = run.data.train;
  run.n_train = int64_t(train.size());
  if (run.n_train == 0) throw Error(ErrorKind::data, run.data.path, "the training split is empty");
  run.log.say("read " + std::to_string(run.n_train) + " training and " + std::to_string(run.data.test.size()) +
              " test images (" + std::to_string(train.channels) + "x" + std::to_string(train.height) + "x" +
              std::to_string(train.width) + ") in " + fixed(seconds_since(t_read), 1) + " s");
}

void build_network(Run& run) {
  const Config& cfg = run.cfg;
  const InputShape in_shape{run.data.train.channels, run.data.train.height, run.data.train.width};
  run.batch = split_batch(cfg, run.comm, run.n_train);
  run.log.say("building the network: " + std::to_string(cfg.layers.size()) + " layers, batch " +
              std::to_string(run.batch.global) +
              (run.comm.distributed() ? " (" + std::to_string(run.batch.local) + " on each of " +
                                            std::to_string(run.comm.size()) + " MPI ranks)"
                                      : std::string()) +
              ", " + std::to_string(cfg.run.threads) + (cfg.run.threads == 1 ? " thread" : " threads"));
  // Shapes fit only once the dataset's image size is known; name the config file too.
  try {
    run.net = std::make_unique<Network>(cfg.layers, in_shape, run.batch.local, cfg.run.seed,
                                        NetworkOptions{cfg.conv_algorithm, cfg.train.precision, cfg.conv_algorithms});
  } catch (const Error& e) {
    // A bf16 refusal is about the CPU, not the shapes: no image size to add.
    if (cfg.source.empty() || e.where().rfind(cfg.source, 0) == 0 || e.where() == "train.precision") throw;
    throw Error(e.kind(), cfg.source + ": " + e.where(),
                e.problem() + " (with " + std::to_string(in_shape.channels) + "x" + std::to_string(in_shape.height) +
                    "x" + std::to_string(in_shape.width) + " images from " + run.data.path + ")",
                e.hint());
  }
  if (run.net->num_classes() != run.data.train.num_classes)
    throw Error(ErrorKind::shape, (cfg.source.empty() ? "" : cfg.source + ": ") + "layer " + cfg.layers.back().name,
                "the last fc layer's out must equal the number of classes: " +
                    expected_found(std::to_string(run.data.train.num_classes), std::to_string(run.net->num_classes())));
}

// model.conv_algorithm = auto times each conv pass when the network is built, and timing
// can tip either way: a run records what it chose in its config.cfg
// (model.conv_algorithms), and every MPI rank takes rank 0's choice, so that a resume,
// the analyses and every rank compute as the first start did.
void resolve_conv_algorithms(Run& run, Config& cfg) {
  if (cfg.conv_algorithm != ConvAlgorithm::automatic || !cfg.conv_algorithms.empty()) return;
  const std::string mine = format_resolved_convs(run.net->resolved_convs());
  std::string chosen = mine;
  if (run.comm.distributed()) {
    uint64_t n = chosen.size();
    run.comm.broadcast(&n, sizeof n);
    chosen.resize(size_t(n));
    run.comm.broadcast(chosen.data(), size_t(n));
  }
  cfg.conv_algorithms = parse_resolved_convs(chosen, "model.conv_algorithms");
  cfg.text = config_text(cfg);
  if (mine != chosen) build_network(run);  // this rank's timing chose otherwise: rank 0's choice
  run.log.say("model.conv_algorithm = auto chose " + chosen +
              " (kept in config.cfg as model.conv_algorithms: a resume computes the same)");
}

// A resume given a config without model.conv_algorithms (the file the run started from,
// say) keeps the choice its run recorded, rather than timing again.
void adopt_resolved_convs(const RunPaths& paths, Config& cfg) {
  if (!cfg.conv_algorithms.empty()) return;
  const Config stored = load_config({"--config", paths.config});
  if (stored.conv_algorithms.empty()) return;
  cfg.conv_algorithms = stored.conv_algorithms;
  cfg.text = config_text(cfg);
}

// With --resume, once the data is read: checks that the state found fits this run.
void prepare_resume(Run& run) {
  const Config& cfg = run.cfg;
  if (!run.resume.found) return;
  const Snapshot& s = run.resume.state;
  check_resumable_input(s, run.resume.from, cfg, run.net->input());
  const int64_t steps_per_epoch = run.n_train / run.batch.global;
  // A state beyond every epoch count the run has had is a damaged file; a legit state
  // beyond the given train.epochs is a request to shorten the run, said as such.
  if (s.epoch > std::max(run.run_epochs, cfg.train.epochs))
    check_resume_position(s, run.resume.from, cfg.train.epochs, steps_per_epoch);
  if (cfg.train.epochs < s.epoch)
    throw Error(ErrorKind::config, "key train.epochs",
                expected_found("at least " + std::to_string(s.epoch) + ", the epochs " + run.paths.dir + " has trained",
                               std::to_string(cfg.train.epochs)),
                "a run cannot be shortened below the epochs it has done");
  check_resume_position(s, run.resume.from, cfg.train.epochs, steps_per_epoch);
  std::istringstream rng_text(s.optimizer.rng_state);
  rng_text >> run.rng;
  if (!rng_text)
    throw Error(ErrorKind::snapshot, run.resume.from + ": /optimizer attribute rng_state",
                "expected the text of a std::mt19937_64 state, found something else", "start over with --force");
}

// The run folder, from here on written (by rank 0 alone under MPI).
void prepare_run_folder(Run& run) {
  // Every rank has read what it needs of the folder (a resume's state, the checks above)
  // before rank 0 changes it.
  run.comm.barrier();
  if (run.comm.rank() != 0) return;
  // Room for every snapshot, last.h5 and the metrics, with a margin.
  size_t n_params = 0;
  for (size_t i = 0; i < run.net->size(); ++i) n_params += run.net->layer(i).params().weights.size();
  check_writable_dir(run.paths.snapshots, uint64_t(n_params) * 8 * (run.cfg.snapshot.epochs.size() + 2) + (1u << 20));
  if (run.opt.force) clear_run(run.paths);
  remove_stale_temps(run.paths);
  check_writable_dir(run.paths.snapshots, 0);
  write_text_atomic(run.paths.config, run.cfg.text);
  run.log.open(run.paths.log);
}

// metrics.csv gains the epoch's row; the state goes to last.h5 (and a snapshot at the
// chosen epochs), then analysis.live's hook runs on every rank (they analyse together).
void write_epoch_outputs(Run& run, const EpochRow& row) {
  Network& net = *run.net;
  run.metrics_text += metrics_row(net, row);
  const bool snapshot = run.snap_epochs.count(row.epoch) > 0;
  std::string p;
  if (snapshot) p = (fs::path(run.paths.snapshots) / snapshot_file_name(row.epoch)).string();
  if (run.comm.rank() == 0) {
    CsvWriter(metrics_header(net)).add_lines(run.metrics_text).write(run.paths.metrics);
    run.state.rng_state = rng_to_string(run.rng);
    run.state.momentum = run.momentum;
    run.state.ranks = run.comm.size();
    const Snapshot s = make_snapshot(run.cfg, net, run.norm, row, run.state);
    // The snapshot first: a run killed between the two writes resumes from the snapshot
    // (the newer state) and so never misses writing it.
    if (snapshot) write_snapshot(p, s);
    write_snapshot(run.paths.last, s);
  }
  // The other ranks read the snapshot only once rank 0 has written it.
  run.comm.barrier();
  if (snapshot && run.opt.on_snapshot) run.opt.on_snapshot(row.epoch, p);
}

// The resumed state is input, not a result: weights that overflow the network on the probe
// images, or momentum that takes them there in the next step, are the file's fault (exit 2
// naming it and the layer), not a divergence that would call this file "the last good state".
void check_resumed_values(Run& run, const std::string& from) {
  Network& net = *run.net;
  const int64_t images = std::max<int64_t>(1, run.probe());
  // The same check as every analysis (a state analyze would refuse is refused here too),
  // deconvnet included where the network is float32 (the analyses run it in float32).
  check_network_finite(net, run.data.train, run.norm, images, from, "its weights",
                       /*deconvnet=*/run.cfg.train.precision == Precision::f32);
  if (run.momentum.empty()) return;
  // The part of the next update known before any data: w - lr * (mu * v + wd * w).
  const std::vector<LayerParams> saved = net.export_params();
  std::vector<LayerParams> moved = saved;
  const float lr = run.state.lr, mu = run.cfg.train.momentum, wd = run.cfg.train.weight_decay;
  for (size_t i = 0; i < moved.size() && i < run.momentum.size(); ++i) {
    const auto step = [&](Tensor& w, const Tensor& v, const std::string& part) {
      if (v.data.size() != w.data.size()) return;
      // A healthy step moves a layer by a small fraction of its RMS; a million times it is
      // no training state (momentum x1e30 used to train on and be called divergence).
      const double moves = double(lr) * double(mu) * rms(v.data), size = std::max(rms(w.data), 1e-3);
      if (!(moves <= 1e6 * size))
        throw Error(ErrorKind::snapshot, from + ": /optimizer/momentum/" + net.specs()[i].name + "/" + part,
                    "the next step would move the layer's " + part + " by " + general(moves / size) +
                        " times their RMS: " + expected_found("momentum on the scale of the weights' updates",
                                                              "momentum of RMS " + general(rms(v.data))),
                    "the file's momentum is damaged: resume from the snapshot before it, or move it away");
      for (size_t k = 0; k < w.data.size(); ++k) {
        w.data[k] -= lr * (mu * v.data[k] + wd * w.data[k]);
        if (!std::isfinite(w.data[k]))
          throw Error(ErrorKind::snapshot, from + ": /optimizer/momentum/" + net.specs()[i].name + "/" + part,
                      "the next step would make the layer's " + part + " non-finite: " +
                          expected_found("momentum on the scale of the gradients", "a value of " +
                                         std::to_string(v.data[k])),
                      "the file's momentum is damaged: resume from the snapshot before it, or move it away");
      }
    };
    step(moved[i].weights, run.momentum[i].weights, "weights");
    step(moved[i].bias, run.momentum[i].bias, "bias");
  }
  net.import_params(moved);
  check_network_finite(net, run.data.train, run.norm, images, from,
                       "its weights after the next step's momentum (lr " + general(lr) + ")", /*deconvnet=*/false);
  net.import_params(saved);
}

// The weights, momentum and schedule to start from: the resumed state, or a fresh
// initialisation with epoch 0's row (the loss of the initialisation over both splits).
void start_state(Run& run) {
  const Config& cfg = run.cfg;
  Network& net = *run.net;
  run.state.lr = cfg.train.lr;
  run.state.best_val_loss = 0;
  run.state.epochs_since_best = -1;  // no validation loss seen yet
  if (run.resume.found) {
    const ResumePoint& r = run.resume;
    net.import_params(r.state.params);
    run.state = r.state.optimizer;
    if (r.state.optimizer.ranks > 0 && r.state.optimizer.ranks != run.comm.size())
      run.log.say("note: " + r.from + " was trained on " + std::to_string(r.state.optimizer.ranks) +
                  " MPI rank(s), and resumes on " + std::to_string(run.comm.size()) +
                  ": every image keeps its crops, flips and dropout (keyed by its place in the global batch), "
                  "so the steps are the same up to the order of the gradient sums, not bit for bit");
    run.momentum = run.state.momentum;
    check_resumed_values(run, r.from);
    run.step = r.state.step;
    run.start_epoch = r.state.epoch;
    run.metrics_text = metrics_rows_upto(run.paths.metrics, run.start_epoch);
    if (r.refresh_last && run.comm.rank() == 0) write_snapshot(run.paths.last, r.state);
    check_ranks_agree(run.comm, net, "the resumed weights of " + r.from);
    run.log.say("resuming " + run.paths.dir + " from epoch " + std::to_string(run.start_epoch) + " (step " +
                std::to_string(run.step) + ", " + r.from + ")");
    return;
  }
  // Every rank draws the same initial weights from the same seed; checked, not assumed.
  init_params(net, cfg.train, run.rng);
  check_ranks_agree(run.comm, net, "the initial weights (run.seed " + std::to_string(cfg.run.seed) + ")");
  EpochRow row;
  row.lr = run.state.lr;
  const Dataset& train = run.data.train;
  const Dataset& test = run.data.test;
  run.log.say("epoch 0: evaluating the initial network (" + std::string(to_string(cfg.train.init)) + " init) on " +
              std::to_string(run.n_train) + " training and " + std::to_string(test.size()) + " test images");
  {
    Progress train_bar("epoch 0 training set", my_share(run.comm, net, run.n_train).count, "img", "eval");
    row.train = evaluate_shared(run.comm, net, train, run.norm, &train_bar);
    train_bar.clear();
  }
  const auto t_val = std::chrono::steady_clock::now();
  {
    Progress val_bar("epoch 0 test set", my_share(run.comm, net, int64_t(test.size())).count, "img", "eval");
    row.val = evaluate_shared(run.comm, net, test, run.norm, &val_bar);
    val_bar.clear();
  }
  row.dead = dead_fractions(run.comm, net, train, run.norm, cfg.train.probe_batch);
  run.eval_seconds = seconds_since(t_val);
  for (const std::string& w : run.layer_warnings.check(net, 0, {}, row.dead, run.probe())) run.log.warn(w);
  row.stats.assign(net.size(), UpdateStats{});
  for (size_t i = 0; i < net.size(); ++i) row.stats[i].weight_rms = rms(net.layer(i).params().weights.data);
  write_epoch_outputs(run, row);
  run.log.say("epoch 0 (before training): train loss " + fixed(row.train.loss, 4) + " acc " +
              fixed(row.train.accuracy, 4) + " | val loss " + fixed(row.val.loss, 4) + " acc " +
              fixed(row.val.accuracy, 4));
}

// Buffers of one step (this rank's slice of the global batch).
struct StepBuffers {
  std::vector<int64_t> order;  // the epoch's permutation of the training set
  std::vector<float> input;    // (local batch, C, H, W)
  std::vector<int32_t> labels; // (local batch)
  std::vector<float> diff;     // (local batch, classes)
};

// One SGD step on global batch b of the epoch: this rank's slice forward and backward,
// the gradients summed over the ranks while backward goes on (each layer's sum starts as
// soon as its gradients are final), then the same update on every rank.
LossResult train_step(Run& run, StepBuffers& buf, int64_t b, bool last_step, EpochRow& row, int epoch) {
  const Config& cfg = run.cfg;
  Network& net = *run.net;
  const BatchSplit& batch = run.batch;
  make_batch(run.data.train, buf.order.data() + b * batch.global + batch.first, batch.local, run.norm,
             Augmentation{cfg.data.crop_pad, cfg.data.flip}, run.rng, buf.input.data(), buf.labels.data(),
             BatchSlice{batch.first, batch.global});
  net.set_step(uint64_t(run.step));
  net.set_image_offset(uint64_t(batch.first));
  net.forward(buf.input.data(), Mode::train);
  // The gradient of the global batch's mean loss: each rank divides by the global batch.
  const LossResult lr = softmax_cross_entropy(net.logits(), buf.labels.data(), batch.local, net.num_classes(),
                                              buf.diff.data(), run.comm.distributed() ? batch.global : 0);
  if (!std::isfinite(lr.loss_sum))
    throw Error(ErrorKind::divergence, "epoch " + std::to_string(epoch) + ", step " + std::to_string(run.step),
                "the loss is not finite; first non-finite values: " + first_nonfinite_layer(net),
                "lower train.lr or keep train.renorm_radius on; the last good state is in " + run.paths.last);
  if (run.comm.distributed()) {
    Comm& comm = run.comm;
    net.backward(buf.diff.data(), [&net, &comm](size_t i) {
      LayerParams& g = net.layer(i).grads();
      comm.start_allreduce_sum(g.weights.ptr(), g.weights.size());
      comm.start_allreduce_sum(g.bias.ptr(), g.bias.size());
      comm.progress();  // Open MPI moves the sums started above only inside MPI calls
    });
    comm.wait_all();
  } else {
    net.backward(buf.diff.data());
  }
  sgd_step(net, run.momentum, run.state.lr, cfg.train.momentum, cfg.train.weight_decay, last_step ? &row.stats : nullptr);
  renormalize_filters(net, cfg.train.renorm_radius);
  net.sync_params();
  ++run.step;
  return lr;
}

// One epoch of SGD steps over the epoch's shuffle of the training set; fills the row's
// training figures (summed over the ranks).
EpochRow run_epoch(Run& run, StepBuffers& buf, int epoch) {
  const Config& cfg = run.cfg;
  Network& net = *run.net;
  switch (cfg.train.lr_schedule) {
    case LrSchedule::step: run.state.lr = step_schedule_lr(cfg.train, epoch); break;
    case LrSchedule::none:
    case LrSchedule::plateau: break;  // plateau lowers the lr after an epoch's validation
  }
  // One seeded shuffle, the same on every rank: each takes its slice of every global batch.
  std::iota(buf.order.begin(), buf.order.end(), 0);
  std::shuffle(buf.order.begin(), buf.order.end(), run.rng);
  // A streamed folder's readers start here.
  prefetch_epoch(run.data.train, buf.order, run.batch.local, run.norm, Augmentation{cfg.data.crop_pad, cfg.data.flip},
                 run.rng, BatchSlice{run.batch.first, run.batch.global});
  EpochRow row;
  row.epoch = epoch;
  row.lr = run.state.lr;
  const int64_t steps_per_epoch = run.n_train / run.batch.global;  // the last partial batch is dropped
  double loss_sum = 0;
  int64_t correct = 0, seen = 0;
  run.comm.reset_timing();
  const auto t0 = std::chrono::steady_clock::now();
  Progress bar("epoch " + std::to_string(epoch) + "/" + std::to_string(cfg.train.epochs), steps_per_epoch, "img",
               "train");
  bar.set_run_rest(cfg.train.epochs - epoch, run.eval_seconds);
  for (int64_t b = 0; b < steps_per_epoch; ++b) {
    stop_if_signalled(run, "during epoch " + std::to_string(epoch) + "; epochs up to " + std::to_string(epoch - 1) +
                               " are saved");
    const LossResult lr = train_step(run, buf, b, b + 1 == steps_per_epoch, row, epoch);
    loss_sum += lr.loss_sum;
    correct += lr.correct;
    seen += run.batch.global;
    char note[64];
    // Under MPI the running loss is rank 0's slice's; the row's is the whole batch's.
    std::snprintf(note, sizeof note, "loss %.4f", loss_sum / double(seen / run.comm.size()));
    bar.update(b + 1, note, seen);
  }
  const std::string bad = first_nonfinite_layer(net);
  if (bad.rfind("layer", 0) == 0)
    throw Error(ErrorKind::divergence, "epoch " + std::to_string(epoch) + ", step " + std::to_string(run.step),
                "non-finite values in " + bad, "lower train.lr; the last good state is in " + run.paths.last);
  row.seconds = seconds_since(t0);
  bar.clear();
  run.comm.allreduce_sum(&loss_sum, 1);
  run.comm.allreduce_sum(&correct, 1);
  row.images_per_s = row.seconds > 0 ? double(seen) / row.seconds : 0;
  row.step = run.step;
  row.train.loss = seen ? loss_sum / double(seen) : 0;
  row.train.accuracy = seen ? double(correct) / double(seen) : 0;
  row.train.count = seen;
  if (run.comm.distributed() && steps_per_epoch > 0) {
    // How much of the gradient sums the backward pass hid: what was left to wait for
    // after backward, against what the sums took from their start to their end.
    const Comm::Timing& t = run.comm.timing();
    const double per_step = 1e3 / double(steps_per_epoch);
    run.log.say("allreduce of " + fixed(double(t.bytes) / double(steps_per_epoch) / 1e6, 2) + " MB per step: " +
                fixed(t.communicating * per_step, 1) + " ms from start to end, " + fixed(t.waiting * per_step, 1) +
                " ms waited after backward (" +
                fixed(t.communicating > 0 ? 100.0 * (1.0 - t.waiting / t.communicating) : 0.0, 0) +
                "% overlapped with backward)");
  }
  // The ranks applied the same updates to the same weights; check that they still agree.
  check_ranks_agree(run.comm, net, "the weights after epoch " + std::to_string(epoch));
  return row;
}

// Validation loss and accuracy and the dead-feature probe after an epoch.
void validate(Run& run, EpochRow& row) {
  const auto t_val = std::chrono::steady_clock::now();
  row.val = evaluate_shared(run.comm, *run.net, run.data.test, run.norm, nullptr);
  row.dead = dead_fractions(run.comm, *run.net, run.data.train, run.norm, run.cfg.train.probe_batch);
  run.eval_seconds = seconds_since(t_val);
}

// The epoch's line, with the run's ETA, and the layers' warnings.
void report_epoch(Run& run, const EpochRow& row) {
  const Config& cfg = run.cfg;
  const int epoch = row.epoch;
  run.epochs_seconds += row.seconds + run.eval_seconds;
  ++run.epochs_timed;
  // The same figures as metrics.csv: training images/s over the training steps alone.
  std::string line = "epoch " + std::to_string(epoch) + "/" + std::to_string(cfg.train.epochs) + ": train loss " +
                     fixed(row.train.loss, 4) + " acc " + fixed(row.train.accuracy, 4) + " | val loss " +
                     fixed(row.val.loss, 4) + " acc " + fixed(row.val.accuracy, 4) + " | train " +
                     fixed(row.images_per_s, 0) + " img/s, " + fixed(row.seconds, 1) + " s; evaluation " +
                     fixed(run.eval_seconds, 1) + " s";
  if (epoch < cfg.train.epochs)
    line += " | run ETA " + Progress::format_duration(double(cfg.train.epochs - epoch) * run.epochs_seconds /
                                                      double(run.epochs_timed));
  run.log.say(line);
  for (const std::string& w : run.layer_warnings.check(*run.net, epoch, row.stats, row.dead, run.probe()))
    run.log.warn(w);
  run.last_dead = row.dead;
}

// `--resume` of a run already at its train.epochs: says so, records the values a resume
// may change (config.cfg, train.log) and returns the state's figures. Nothing is trained.
TrainSummary finished_run(Run& run) {
  const Snapshot& s = run.resume.state;
  if (run.comm.rank() == 0) {
    std::ifstream in(run.paths.config);
    const std::string stored{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (run.cfg.text != stored) write_text_atomic(run.paths.config, run.cfg.text);
    run.log.open(run.paths.log);
  }
  run.log.say(run.paths.dir + " is already complete at epoch " + std::to_string(s.epoch) + " (" + run.resume.from +
              "): nothing to train; to train it longer: deconvscope train --run " + run.paths.dir +
              " --resume --train.epochs N (N > " + std::to_string(s.epoch) + ")");
  TrainSummary summary;
  summary.dir = run.paths.dir;
  summary.last_epoch = s.epoch;
  summary.val_loss = s.val_loss;
  summary.val_accuracy = s.val_accuracy;
  summary.already_complete = true;
  return summary;
}

}  // namespace

TrainSummary train(const Config& given, const TrainOptions& opt, Comm& comm) {
  // A copy: a new run records here what model.conv_algorithm = auto chose.
  Config cfg = given;
  set_threads(cfg.run.threads);
  // A rank that leaves by an error skips MPI_Finalize, so mpirun ends the others at once.
  const CommFailureGuard comm_guard;
  Run run(cfg, opt, comm);
  // From here on SIGINT/SIGTERM only set a flag, so no write is ever cut in half by them.
  SignalScope signals;
  run.resume_hint = "continue with: deconvscope train --run " + run.paths.dir + " --resume";

  // Everything that can be wrong with the input is found before anything is written.
  if (opt.resume && opt.force)
    throw Error(ErrorKind::usage, "train", "--resume and --force contradict each other", "pick one");
  if (!opt.resume && !opt.force && holds_run(run.paths))
    throw Error(ErrorKind::usage, run.paths.dir, "this folder already holds a run",
                "continue it with: deconvscope train --run " + run.paths.dir +
                    " --resume; or add --force to start over, or set --run.dir elsewhere");
  run.run_epochs = cfg.train.epochs;
  if (opt.resume) {
    // A --resume that finds no run must not start one: without --run it looks in the
    // config's run.dir (runs/run by default), rarely the folder meant.
    if (!holds_run(run.paths)) {
      const std::string beside = runs_beside(run.paths.dir);
      throw Error(ErrorKind::usage, run.paths.dir,
                  "--resume found nothing to resume in this folder (no config.cfg, metrics.csv, last.h5 or snapshot)",
                  "name the run to continue: deconvscope train --run DIR --resume" +
                      (beside.empty() ? std::string() : " (runs there: " + beside + ")") +
                      "; to start a new run, leave out --resume");
    }
    if (fs::exists(run.paths.config)) {
      adopt_resolved_convs(run.paths, cfg);
      run.run_epochs = check_resume_config(run.paths, cfg, run.log);
    }
    run.resume = find_resume_point(run.paths, run.log);
    if (run.resume.found) check_resumable_layers(run.resume.state, run.resume.from, cfg);
    // A finished run has nothing to train: said without reading the data or building the
    // network. A snapshot newer than last.h5 takes the long way, which rewrites last.h5.
    if (run.resume.found && !run.resume.refresh_last && run.resume.state.epoch == cfg.train.epochs)
      return finished_run(run);
  }
  read_training_data(run);
  build_network(run);
  resolve_conv_algorithms(run, cfg);
  run.rng.seed(cfg.run.seed);
  prepare_resume(run);
  if (g_stop_signal)
    throw Error(ErrorKind::interrupted, run.paths.dir,
                "stopped by signal " + std::to_string(int(g_stop_signal)) + " before training; nothing was written");
  run.norm = compute_normalization(run.data.train);
  run.snap_epochs = std::set<int>(cfg.snapshot.epochs.begin(), cfg.snapshot.epochs.end());
  prepare_run_folder(run);
  start_state(run);

  StepBuffers buf;
  buf.order.resize(size_t(run.n_train));
  buf.input.resize(size_t(run.batch.local) * run.data.train.image_bytes());
  buf.labels.resize(size_t(run.batch.local));
  buf.diff.resize(size_t(run.batch.local) * size_t(run.net->num_classes()));
  TrainSummary summary;
  summary.dir = run.paths.dir;
  summary.last_epoch = run.start_epoch;
  if (run.resume.found) {
    summary.val_loss = run.resume.state.val_loss;
    summary.val_accuracy = run.resume.state.val_accuracy;
  }
  for (int epoch = run.start_epoch + 1; epoch <= cfg.train.epochs; ++epoch) {
    EpochRow row = run_epoch(run, buf, epoch);
    validate(run, row);
    report_epoch(run, row);
    switch (cfg.train.lr_schedule) {
      case LrSchedule::plateau: plateau_update(cfg.train, float(row.val.loss), run.state); break;
      case LrSchedule::none:
      case LrSchedule::step: break;
    }
    write_epoch_outputs(run, row);
    summary.last_epoch = epoch;
    summary.val_loss = row.val.loss;
    summary.val_accuracy = row.val.accuracy;
  }
  // Dead features at the end, for the log (the report and `health` have more).
  if (run.last_dead.empty())
    run.last_dead = dead_fractions(run.comm, *run.net, run.data.train, run.norm, cfg.train.probe_batch);
  run.log.say("dead features at epoch " + std::to_string(summary.last_epoch) + " (never fired on the " +
              std::to_string(run.probe()) + "-image probe batch): " + dead_feature_summary(*run.net, run.last_dead));
  return summary;
}

}  // namespace ds
