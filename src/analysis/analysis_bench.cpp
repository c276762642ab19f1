// The analysis benchmark; see include/deconvscope/analysis/analysis_bench.hpp.
#include "deconvscope/analysis/analysis_bench.hpp"

#include <chrono>

#include "deconvscope/analysis/analyze.hpp"
#include "deconvscope/analysis/deconvnet.hpp"
#include "deconvscope/model/evaluate.hpp"
#include "deconvscope/model/network.hpp"

namespace ds {

AnalysisBenchResult bench_analysis(const Config& cfg, const std::string& run_dir) {
  using clock = std::chrono::steady_clock;
  const Run run = Run::open(run_dir, cfg, "benchmark");
  const AnalysisPlan plan = plan_analysis(run);
  const Snapshot last = run.read(run.snapshots().size() - 1);
  const Dataset& probe = plan.probe();
  const Normalization norm{last.input_mean, last.input_std};
  const std::unique_ptr<Network> net_owner = run.network(cfg.analysis.batch);
  Network& net = *net_owner;
  net.import_params(last.params);
  AnalysisBenchResult r;
  r.epoch = last.epoch;
  r.probe_count = int64_t(probe.size());

  std::vector<float> input;
  std::vector<int32_t> labels;
  auto t = clock::now();
  for (int64_t first = 0; first < r.probe_count; first += net.batch()) {
    const int n = int(std::min<int64_t>(net.batch(), r.probe_count - first));
    fill_batch(probe, first, n, norm, net.batch(), input, labels);
    net.forward(input.data(), Mode::infer);
  }
  r.forward_s = std::chrono::duration<double>(clock::now() - t).count();

  std::vector<ScanRequest> req;
  for (int c : plan.convs) req.push_back(ScanRequest{c, plan.k});
  t = clock::now();
  const auto tops = scan_topk(net, probe, norm, 0, req);
  r.scan_s = std::chrono::duration<double>(clock::now() - t).count();

  std::vector<LayerEvolution> followed = plan.followed;
  if (plan.follow_alive)
    for (size_t l = 0; l < followed.size(); ++l)
      followed[l].features = choose_followed(tops[l], plan.k, cfg.analysis.features);
  t = clock::now();
  analyse_snapshot(net, probe, norm, plan.convs, followed, plan.k, /*want_topk =*/true, nullptr);
  r.analysis_s = std::chrono::duration<double>(clock::now() - t).count();
  return r;
}

}  // namespace ds
