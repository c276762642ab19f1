// Verdicts of the comparison: for one figure, rank the runs and say which is healthier
// and by how much, in a sentence. Differences smaller than a noise floor (half a
// percentage point for shares, 0.01 for cosines, 2% relative for other figures) are
// called ties: one run per setting cannot tell smaller differences from chance.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "compare_internal.hpp"
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

// key -> value of an effective config's INI text; repeated keys (model.layer) are joined.
std::map<std::string, std::string> ini_values(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream in(text);
  std::string section;
  for (std::string line; std::getline(in, line);) {
    const auto trim = [](std::string s) {
      const auto b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string& v = kv[section + "." + trim(line.substr(0, eq))];
    v += (v.empty() ? "" : "; ") + trim(line.substr(eq + 1));
  }
  return kv;
}

// Whether a key changes what training produces up to a given epoch (see the header).
bool changes_results(const std::string& key) {
  static const std::set<std::string> kNot = {"train.epochs", "train.probe_batch", "run.name", "run.dir",
                                             "run.threads"};
  if (kNot.count(key)) return false;
  return key.rfind("data.", 0) == 0 || key.rfind("train.", 0) == 0 || key == "run.seed";
}

}  // namespace

std::vector<std::string> setting_differences(const std::vector<std::string>& labels,
                                             const std::vector<std::string>& config_texts) {
  std::vector<std::map<std::string, std::string>> values;
  std::set<std::string> keys;
  for (const std::string& t : config_texts) {
    values.push_back(ini_values(t));
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
