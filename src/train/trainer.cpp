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
// Left out: multi-process training, mixed precision.
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
#include <memory>
#include <numeric>
#include <set>
#include <sstream>

#include "deconvscope/core/error.hpp"
#include "deconvscope/core/progress.hpp"
#include "deconvscope/core/threads.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/io/atomic_file.hpp"
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

// A resumed state must come from the same network as the config describes.
void check_resumable(const Snapshot& s, const std::string& path, const Config& cfg, const InputShape& in) {
  const std::string hint = "resume with the run's own config (" + RunPaths::of(run_dir(cfg)).config +
                           "), or start over with --force";
  if (s.input.channels != in.channels || s.input.height != in.height || s.input.width != in.width)
    throw Error(ErrorKind::config, path + ": / attribute input_shape",
                "the snapshot's input does not fit the dataset: " +
                    expected_found(std::to_string(in.channels) + "x" + std::to_string(in.height) + "x" +
                                       std::to_string(in.width),
                                   std::to_string(s.input.channels) + "x" + std::to_string(s.input.height) + "x" +
                                       std::to_string(s.input.width)),
                hint);
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

// Keys a resume may change: where the files go, how many epochs, which are snapshotted
// or analysed, and the thread count. None changes the weights of the epochs to come.
bool resume_may_change(const std::string& key) {
  return key == "run.name" || key == "run.dir" || key == "run.threads" || key == "train.epochs" ||
         key == "snapshot.epochs" || key.rfind("analysis.", 0) == 0 || key.rfind("linear_probe.", 0) == 0 ||
         key == "data.streaming" ||
         key == "data.memory_budget_mb" || key == "data.reader_threads" || key == "data.prefetch_batches";
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

// Per conv layer: fraction of feature maps that are zero at every position of every
// image of the probe batch.
std::vector<double> dead_fractions(Network& net, const Dataset& d, const Normalization& norm, int64_t probe) {
  std::vector<int> convs;
  for (size_t i = 0; i < net.size(); ++i)
    if (net.specs()[i].type == LayerType::conv) convs.push_back(int(i));
  const auto rates = fire_rates(net, d, norm, std::min<int64_t>(probe, int64_t(d.size())), convs);
  std::vector<double> out(net.size(), 0.0);
  for (size_t l = 0; l < convs.size(); ++l)
    out[size_t(convs[l])] =
        double(std::count(rates[l].begin(), rates[l].end(), 0.f)) / double(std::max<size_t>(1, rates[l].size()));
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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

std::string metrics_header(const Network& net) {
  std::string h = "epoch,step,lr,train_loss,train_accuracy,val_loss,val_accuracy,seconds,images_per_s";
  for (size_t i = 0; i < net.size(); ++i) {
    const LayerSpec& s = net.specs()[i];
    if (!s.has_params()) continue;
    h += "," + s.name + "_weight_rms," + s.name + "_grad_rms," + s.name + "_update_ratio";
    if (s.type == LayerType::conv) h += "," + s.name + "_dead_fraction";
  }
  return h + "\n";
}

std::string metrics_row(const Network& net, const EpochRow& r) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%d,%lld,%.6g,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f", r.epoch, (long long)r.step, r.lr,
                r.train.loss, r.train.accuracy, r.val.loss, r.val.accuracy, r.seconds, r.images_per_s);
  std::string row = buf;
  for (size_t i = 0; i < net.size(); ++i) {
    const LayerSpec& s = net.specs()[i];
    if (!s.has_params()) continue;
    const UpdateStats u = i < r.stats.size() ? r.stats[i] : UpdateStats{};
    const double ratio = u.weight_rms > 0 ? u.update_rms / u.weight_rms : 0;
    std::snprintf(buf, sizeof buf, ",%.6g,%.6g,%.6g", u.weight_rms, u.grad_rms, ratio);
    row += buf;
    if (s.type == LayerType::conv) {
      std::snprintf(buf, sizeof buf, ",%.4f", i < r.dead.size() ? r.dead[i] : 0.0);
      row += buf;
    }
  }
  return row + "\n";
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
  std::ifstream f(path);
  std::string line, out;
  bool header = true;
  while (std::getline(f, line)) {
    if (header) { header = false; continue; }
    if (line.empty()) continue;
    if (std::atoi(line.c_str()) <= upto) out += line + "\n";
  }
  return out;
}

}  // namespace

TrainSummary train(const Config& cfg, const TrainOptions& opt) {
  set_threads(cfg.run.threads);
  const RunPaths paths = RunPaths::of(run_dir(cfg));
  // From here on SIGINT/SIGTERM only set a flag, so no write is ever cut in half by them.
  SignalScope signals;
  RunLog log;
  const std::string resume_hint = "continue with: deconvscope train --run " + paths.dir + " --resume";

  // Everything that can be wrong with the input is found before anything is written.
  if (opt.resume && opt.force)
    throw Error(ErrorKind::usage, "train", "--resume and --force contradict each other", "pick one");
  if (!opt.resume && !opt.force && holds_run(paths))
    throw Error(ErrorKind::usage, paths.dir, "this folder already holds a run",
                "continue it with: deconvscope train --run " + paths.dir +
                    " --resume; or add --force to start over, or set --run.dir elsewhere");
  // The epochs the run was configured for: a resumed state beyond them is a damaged file.
  int run_epochs = cfg.train.epochs;
  if (opt.resume && fs::exists(paths.config)) run_epochs = check_resume_config(paths, cfg, log);
  // Reading (and resizing) a large dataset takes a while: say so, and how long it took.
  log.say("reading " + cfg.data.dataset + " from " + cfg.data.path +
          (cfg.data.resize > 0 ? " (resizing to " + std::to_string(cfg.data.resize) + "x" +
                                     std::to_string(cfg.data.resize) + ")"
                               : std::string()) +
          " ...");
  const auto t_read = std::chrono::steady_clock::now();
  DataSplits data;
  try {
    data = load_dataset(cfg.data);
  } catch (const Error& e) {
    // A data.* value the loader refuses ("key data.dataset") is a line of the config file.
    if (e.kind() != ErrorKind::config || cfg.source.empty()) throw;
    throw Error(e.kind(), cfg.source + ": " + e.where(), e.problem(), e.hint());
  }
  for (const std::string& note : data.notes) log.say(note);
  const InputShape in_shape{data.train.channels, data.train.height, data.train.width};
  const int64_t n_train = int64_t(data.train.size());
  if (n_train == 0) throw Error(ErrorKind::data, data.path, "the training split is empty");
  log.say("read " + std::to_string(n_train) + " training and " + std::to_string(data.test.size()) + " test images (" +
          std::to_string(in_shape.channels) + "x" + std::to_string(in_shape.height) + "x" +
          std::to_string(in_shape.width) + ") in " + fixed(seconds_since(t_read), 1) + " s");
  const int batch = int(std::min<int64_t>(cfg.train.batch, n_train));
  log.say("building the network: " + std::to_string(cfg.layers.size()) + " layers, batch " + std::to_string(batch) +
          ", " + std::to_string(cfg.run.threads) + (cfg.run.threads == 1 ? " thread" : " threads"));
  // Shapes fit only once the dataset's image size is known; name the config file too.
  std::unique_ptr<Network> net_owner;
  try {
    net_owner = std::make_unique<Network>(cfg.layers, in_shape, batch, cfg.run.seed,
                                          NetworkOptions{cfg.conv_algorithm, cfg.train.precision});
  } catch (const Error& e) {
    // A bf16 refusal is about the CPU, not the shapes: no image size to add.
    if (cfg.source.empty() || e.where().rfind(cfg.source, 0) == 0 || e.where() == "train.precision") throw;
    throw Error(e.kind(), cfg.source + ": " + e.where(),
                e.problem() + " (with " + std::to_string(in_shape.channels) + "x" + std::to_string(in_shape.height) +
                    "x" + std::to_string(in_shape.width) + " images from " + data.path + ")",
                e.hint());
  }
  Network& net = *net_owner;
  if (net.num_classes() != data.train.num_classes)
    throw Error(ErrorKind::shape, (cfg.source.empty() ? "" : cfg.source + ": ") + "layer " + cfg.layers.back().name,
                "the last fc layer's out must equal the number of classes: " +
                    expected_found(std::to_string(data.train.num_classes), std::to_string(net.num_classes())));

  Snapshot resumed;
  bool have_resume = false;
  bool refresh_last = false;  // resumed from a snapshot newer than last.h5
  std::string resumed_from;
  if (opt.resume) {
    std::vector<std::pair<int, std::string>> found;
    if (fs::exists(paths.snapshots)) found = list_snapshots(paths.snapshots);
    std::string newest = found.empty() ? "" : found.back().second;
    int newest_epoch = found.empty() ? -1 : found.back().first;
    if (fs::exists(paths.last)) {
      Snapshot last = read_snapshot(paths.last);
      if (last.epoch >= newest_epoch) {
        resumed = std::move(last);
        resumed_from = paths.last;
        have_resume = true;
      }
    }
    if (!have_resume && !newest.empty()) {
      // Killed between the snapshot and last.h5 of the same epoch: the snapshot is newer.
      resumed = read_snapshot(newest);
      resumed_from = newest;
      have_resume = true;
      refresh_last = true;
    }
    // Nothing complete yet (killed before the first state landed): starting over is exactly
    // what the interrupted run would have done.
    if (!have_resume) {
      log.say("nothing to resume in " + paths.dir + " (no snapshot and no last.h5): starting from epoch 0");
    } else {
      check_resumable(resumed, resumed_from, cfg, in_shape);
      // A state beyond every epoch count the run has had is a damaged file; a legit state
      // beyond the given train.epochs is a request to shorten the run, said as such.
      if (resumed.epoch > std::max(run_epochs, cfg.train.epochs))
        check_resume_position(resumed, resumed_from, cfg.train.epochs, n_train / batch);
      if (cfg.train.epochs < resumed.epoch)
        throw Error(ErrorKind::config, "key train.epochs",
                    expected_found("at least " + std::to_string(resumed.epoch) + ", the epochs " + paths.dir +
                                       " has trained",
                                   std::to_string(cfg.train.epochs)),
                    "a run cannot be shortened below the epochs it has done");
      check_resume_position(resumed, resumed_from, cfg.train.epochs, n_train / batch);
    }
  }
  std::mt19937_64 rng(cfg.run.seed);
  if (have_resume) {
    std::istringstream rng_text(resumed.optimizer.rng_state);
    rng_text >> rng;
    if (!rng_text)
      throw Error(ErrorKind::snapshot, resumed_from + ": /optimizer attribute rng_state",
                  "expected the text of a std::mt19937_64 state, found something else", "start over with --force");
  }
  if (g_stop_signal)
    throw Error(ErrorKind::interrupted, paths.dir,
                "stopped by signal " + std::to_string(int(g_stop_signal)) + " before training; nothing was written");

  const Normalization norm = compute_normalization(data.train);
  // Room for every snapshot, last.h5 and the metrics, with a margin.
  size_t n_params = 0;
  for (size_t i = 0; i < net.size(); ++i) n_params += net.layer(i).params().weights.size();
  check_writable_dir(paths.snapshots, uint64_t(n_params) * 8 * (cfg.snapshot.epochs.size() + 2) + (1u << 20));
  if (opt.force) clear_run(paths);
  remove_stale_temps(paths);
  check_writable_dir(paths.snapshots, 0);
  write_text_atomic(paths.config, cfg.text);
  log.open(paths.log);

  OptimizerState state;
  state.lr = cfg.train.lr;
  state.best_val_loss = 0;
  state.epochs_since_best = -1;  // no validation loss seen yet
  int64_t step = 0;
  int start_epoch = 0;
  double eval_seconds = 0;       // the latest evaluation after an epoch (val set and probe), for the ETA
  double epochs_seconds = 0;     // epochs trained by this process, evaluation included
  int epochs_timed = 0;
  LayerWarnings layer_warnings;
  std::vector<double> last_dead;  // the latest epoch's dead fractions, for the closing summary
  std::string metrics_text;
  std::vector<LayerParams> momentum;

  const std::set<int> snap_epochs(cfg.snapshot.epochs.begin(), cfg.snapshot.epochs.end());
  auto save = [&](const EpochRow& row, bool snapshot) {
    state.rng_state = rng_to_string(rng);
    state.momentum = momentum;
    const Snapshot s = make_snapshot(cfg, net, norm, row, state);
    // The snapshot first: a run killed between the two writes resumes from the snapshot
    // (the newer state) and so never misses writing it.
    std::string p;
    if (snapshot) {
      p = (fs::path(paths.snapshots) / snapshot_file_name(row.epoch)).string();
      write_snapshot(p, s);
    }
    write_snapshot(paths.last, s);
    if (snapshot && opt.on_snapshot) opt.on_snapshot(row.epoch, p);
  };

  if (have_resume) {
    net.import_params(resumed.params);
    state = resumed.optimizer;
    momentum = state.momentum;
    step = resumed.step;
    start_epoch = resumed.epoch;
    metrics_text = metrics_rows_upto(paths.metrics, start_epoch);
    if (refresh_last) write_snapshot(paths.last, resumed);
    log.say("resuming " + paths.dir + " from epoch " + std::to_string(start_epoch) + " (step " +
            std::to_string(step) + ", " + resumed_from + ")");
  } else {
    init_params(net, cfg.train, rng);
    EpochRow row;
    row.lr = state.lr;
    // Epoch 0's row: the loss of the initialisation over both splits, the first long pass.
    log.say("epoch 0: evaluating the initial network (" + cfg.train.init + " init) on " + std::to_string(n_train) +
            " training and " + std::to_string(data.test.size()) + " test images");
    {
      Progress train_bar("epoch 0 training set", n_train, "img", "eval");
      row.train = evaluate(net, data.train, norm, 0, &train_bar);
      train_bar.clear();
    }
    const auto t_val = std::chrono::steady_clock::now();
    {
      Progress val_bar("epoch 0 test set", int64_t(data.test.size()), "img", "eval");
      row.val = evaluate(net, data.test, norm, 0, &val_bar);
      val_bar.clear();
    }
    row.dead = dead_fractions(net, data.train, norm, cfg.train.probe_batch);
    eval_seconds = seconds_since(t_val);
    for (const std::string& w : layer_warnings.check(net, 0, {}, row.dead, std::min<int64_t>(cfg.train.probe_batch, n_train)))
      log.warn(w);
    row.stats.assign(net.size(), UpdateStats{});
    for (size_t i = 0; i < net.size(); ++i) row.stats[i].weight_rms = rms(net.layer(i).params().weights.data);
    metrics_text = metrics_row(net, row);
    write_text_atomic(paths.metrics, metrics_header(net) + metrics_text);
    save(row, snap_epochs.count(0) > 0);
    log.say("epoch 0 (before training): train loss " + fixed(row.train.loss, 4) + " acc " +
            fixed(row.train.accuracy, 4) + " | val loss " + fixed(row.val.loss, 4) + " acc " +
            fixed(row.val.accuracy, 4));
  }

  const int64_t steps_per_epoch = n_train / batch;  // the last partial batch is dropped
  const Augmentation aug{cfg.data.crop_pad, cfg.data.flip};
  const int K = net.num_classes();
  std::vector<int64_t> order(static_cast<size_t>(n_train));
  std::vector<float> input(static_cast<size_t>(batch) * data.train.image_bytes());
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  std::vector<float> diff(static_cast<size_t>(batch) * K);
  TrainSummary summary;
  summary.dir = paths.dir;
  summary.last_epoch = start_epoch;
  if (have_resume) {
    summary.val_loss = resumed.val_loss;
    summary.val_accuracy = resumed.val_accuracy;
  }

  for (int epoch = start_epoch + 1; epoch <= cfg.train.epochs; ++epoch) {
    if (cfg.train.lr_schedule == "step") state.lr = step_schedule_lr(cfg.train, epoch);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    prefetch_epoch(data.train, order, batch, norm, aug, rng);  // a streamed folder's readers start here
    EpochRow row;
    row.epoch = epoch;
    row.lr = state.lr;
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    const auto t0 = std::chrono::steady_clock::now();
    Progress bar("epoch " + std::to_string(epoch) + "/" + std::to_string(cfg.train.epochs), steps_per_epoch, "img",
                 "train");
    bar.set_run_rest(cfg.train.epochs - epoch, eval_seconds);
    for (int64_t b = 0; b < steps_per_epoch; ++b) {
      if (g_stop_signal)
        throw Error(ErrorKind::interrupted, paths.dir,
                    "stopped by signal " + std::to_string(int(g_stop_signal)) + " during epoch " +
                        std::to_string(epoch) + "; epochs up to " + std::to_string(epoch - 1) + " are saved",
                    resume_hint);
      make_batch(data.train, order.data() + b * batch, batch, norm, aug, rng, input.data(), labels.data());
      net.set_step(uint64_t(step));
      net.forward(input.data(), Mode::train);
      const LossResult lr = softmax_cross_entropy(net.logits(), labels.data(), batch, K, diff.data());
      if (!std::isfinite(lr.loss_sum))
        throw Error(ErrorKind::divergence, "epoch " + std::to_string(epoch) + ", step " + std::to_string(step),
                    "the loss is not finite; first non-finite values: " + first_nonfinite_layer(net),
                    "lower train.lr or keep train.renorm_radius on; the last good state is in " + paths.last);
      net.backward(diff.data());
      const bool last_step = b + 1 == steps_per_epoch;
      sgd_step(net, momentum, state.lr, cfg.train.momentum, cfg.train.weight_decay, last_step ? &row.stats : nullptr);
      renormalize_filters(net, cfg.train.renorm_radius);
      net.sync_params();
      ++step;
      loss_sum += lr.loss_sum;
      correct += lr.correct;
      seen += batch;
      char note[64];
      std::snprintf(note, sizeof note, "loss %.4f", loss_sum / double(seen));
      bar.update(b + 1, note, seen);
    }
    const std::string bad = first_nonfinite_layer(net);
    if (bad.rfind("layer", 0) == 0)
      throw Error(ErrorKind::divergence, "epoch " + std::to_string(epoch) + ", step " + std::to_string(step),
                  "non-finite values in " + bad, "lower train.lr; the last good state is in " + paths.last);
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    row.images_per_s = row.seconds > 0 ? double(seen) / row.seconds : 0;
    row.step = step;
    row.train.loss = seen ? loss_sum / double(seen) : 0;
    row.train.accuracy = seen ? double(correct) / double(seen) : 0;
    row.train.count = seen;
    const auto t_val = std::chrono::steady_clock::now();
    row.val = evaluate(net, data.test, norm);
    row.dead = dead_fractions(net, data.train, norm, cfg.train.probe_batch);
    eval_seconds = seconds_since(t_val);
    epochs_seconds += row.seconds + eval_seconds;
    ++epochs_timed;
    // The same figures as metrics.csv: training images/s over the training steps alone.
    bar.clear();
    std::string line = "epoch " + std::to_string(epoch) + "/" + std::to_string(cfg.train.epochs) + ": train loss " +
                       fixed(row.train.loss, 4) + " acc " + fixed(row.train.accuracy, 4) + " | val loss " +
                       fixed(row.val.loss, 4) + " acc " + fixed(row.val.accuracy, 4) + " | train " +
                       fixed(row.images_per_s, 0) + " img/s, " + fixed(row.seconds, 1) + " s; evaluation " +
                       fixed(eval_seconds, 1) + " s";
    if (epoch < cfg.train.epochs)
      line += " | run ETA " +
              Progress::format_duration(double(cfg.train.epochs - epoch) * epochs_seconds / double(epochs_timed));
    log.say(line);
    for (const std::string& w :
         layer_warnings.check(net, epoch, row.stats, row.dead, std::min<int64_t>(cfg.train.probe_batch, n_train)))
      log.warn(w);
    last_dead = row.dead;
    if (cfg.train.lr_schedule == "plateau") plateau_update(cfg.train, float(row.val.loss), state);
    metrics_text += metrics_row(net, row);
    write_text_atomic(paths.metrics, metrics_header(net) + metrics_text);
    save(row, snap_epochs.count(epoch) > 0);
    summary.last_epoch = epoch;
    summary.val_loss = row.val.loss;
    summary.val_accuracy = row.val.accuracy;
  }
  // Dead features at the end, for the log (the report and `health` have more).
  if (last_dead.empty()) last_dead = dead_fractions(net, data.train, norm, cfg.train.probe_batch);
  log.say("dead features at epoch " + std::to_string(summary.last_epoch) + " (never fired on the " +
          std::to_string(std::min<int64_t>(cfg.train.probe_batch, n_train)) +
          "-image probe batch): " + dead_feature_summary(net, last_dead));
  return summary;
}

}  // namespace ds
