// Verdicts of the comparison: for one figure, rank the runs and say which is healthier
// and by how much, in a sentence. Differences smaller than a noise floor (half a
// percentage point for shares, 0.01 for cosines, 2% relative for other figures) are
// called ties: one run per setting cannot tell smaller differences from chance.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "compare_internal.hpp"
#include "deconvscope/config/config.hpp"
#include "health_html.hpp"

namespace ds::compare_detail {

namespace {

std::string show(float v, bool percent) { return percent ? health_html::pct(v) : health_html::num("%.3g", v); }

// Cosines (redundancy) are judged on an absolute scale: their chance level is itself a
// Monte Carlo estimate good to about 0.005, and near zero a relative rule calls noise.
bool tie(float a, float b, bool percent, const std::string& metric) {
  if (percent) return std::fabs(a - b) < 0.005f;
  if (metric.find("correlation") != std::string::npos) return std::fabs(a - b) < 0.01f;
  return std::fabs(a - b) <= 0.02f * std::max(std::fabs(a), std::fabs(b));
}

}  // namespace

Verdict judge(const std::string& scope, const std::string& metric, const std::string& title, int better, bool percent,
              const std::vector<std::string>& labels, const std::vector<float>& values) {
  Verdict v;
  v.scope = scope;
  v.metric = metric;
  v.title = title;
  v.better = better;
  v.percent = percent;
  std::vector<size_t> order;
  for (size_t i = 0; i < values.size() && i < labels.size(); ++i)
    if (std::isfinite(values[i])) order.push_back(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return better < 0 ? values[a] < values[b] : values[a] > values[b]; });
  for (size_t i : order) {
    v.runs.push_back(labels[i]);
    v.values.push_back(values[i]);
  }
  // Accuracy is not health; the sentence should not pretend it is.
  const std::string word = metric == "val_accuracy" ? "better" : "healthier";
  const std::string head = title + " (" + scope + ", " + (better < 0 ? "lower" : "higher") + " is " + word + "): ";
  if (order.size() < 2) {
    std::string missing;
    for (size_t i = 0; i < labels.size(); ++i)
      if (i >= values.size() || !std::isfinite(values[i])) missing += (missing.empty() ? "" : ", ") + labels[i];
    v.text = head + "not compared: no value for " + (missing.empty() ? std::string("some runs") : missing) + ".";
    return v;
  }
  const float best = v.values.front(), worst = v.values.back();
  if (tie(best, worst, percent, metric)) {
    v.text = head + "no clear difference (" + show(best, percent) + " to " + show(worst, percent) + ").";
    return v;
  }
  for (size_t i = 0; i < v.runs.size() && tie(v.values[i], best, percent, metric); ++i) v.leaders.push_back(v.runs[i]);
  std::string diff;
  if (percent) {
    diff = health_html::num("%.1f", 100.f * std::fabs(best - worst)) + " percentage points";
  } else {
    diff = health_html::num("%.3g", std::fabs(best - worst));
  }
  // A ratio only means something between two positive values.
  const float lo = std::min(best, worst), hi = std::max(best, worst);
  if (lo > 0 && hi / lo >= 1.5f) diff += ", " + health_html::num("%.1f", hi / lo) + "x";
  std::string who;
  for (size_t i = 0; i < v.leaders.size(); ++i)
    who += (i == 0 ? "" : i + 1 == v.leaders.size() ? " and " : ", ") + v.leaders[i];
  v.text = head + who + (v.leaders.size() > 1 ? " are " : " is ") + word + ": " + show(best, percent) + " (" +
           v.runs.front() + ")";
  for (size_t i = 1; i < v.runs.size(); ++i)
    v.text += (i == 1 ? " vs " : ", ") + show(v.values[i], percent) + " (" + v.runs[i] + ")";
  v.text += "; " + diff + " between best and worst.";
  if (v.leaders.size() > 1) v.text += " (" + who + " are within noise of each other.)";
  return v;
}

namespace {

// Whether a key changes what training produces up to a given epoch (see the header): its
// table entry says it changes the weights. The [model] section is left out: the
// architecture is what a comparison is about.
bool changes_results(const std::string& key) {
  return key_effect(key) == KeyEffect::weights && key.rfind("model.", 0) != 0;
}

}  // namespace

std::vector<std::string> setting_differences(const std::vector<std::string>& labels,
                                             const std::vector<std::string>& config_texts) {
  std::vector<std::map<std::string, std::string>> values;
  std::set<std::string> keys;
  for (size_t i = 0; i < config_texts.size(); ++i) {
    const std::string where = (i < labels.size() ? labels[i] : "run " + std::to_string(i + 1)) + ": config.cfg";
    values.push_back(config_entries(config_texts[i], where));
    for (const auto& kv : values.back()) keys.insert(kv.first);
  }
  std::vector<std::string> out;
  for (const std::string& key : keys) {
    if (!changes_results(key)) continue;
    std::set<std::string> seen;
    for (const auto& v : values) seen.insert(v.count(key) ? v.at(key) : std::string("(not set)"));
    if (seen.size() < 2) continue;
    std::string line = key + ":";
    for (size_t i = 0; i < values.size() && i < labels.size(); ++i) {
      const std::string v = values[i].count(key) ? values[i].at(key) : "(not set)";
      line += (i ? ", " : " ") + labels[i] + " " + (v.empty() ? "(empty)" : v);
    }
    out.push_back(line);
  }
  return out;
}

}  // namespace ds::compare_detail
