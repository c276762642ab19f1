// The config key table as the command line sees it, every analysis' section registered
// (cli/analyses.hpp, register_analysis_sections): docs/config.md's lists of keys and
// effects against the table and the resume rule (moved here from tests/config, whose
// process knows only the config stage's own sections), the place of the registered
// sections in config.cfg and the help, and their keys' values and refusals, worded as
// when the config stage held them.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "deconvscope/analysis/invariance.hpp"
#include "deconvscope/analysis/linear_probe.hpp"
#include "deconvscope/analysis/occlusion.hpp"
#include "deconvscope/analysis/similarity.hpp"
#include "deconvscope/cli/analyses.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"

namespace {

// Runs f, expects ds::Error(config), and returns its message.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const ds::Error& e) {
    EXPECT_EQ(int(e.kind()), int(ds::ErrorKind::config)) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return {};
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

// The [section] lines of a config text or help, in order.
std::vector<std::string> sections_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '[') out.push_back(line);
  return out;
}

}  // namespace

// One list of the keys a resume may change: the check follows it, and docs/config.md's
// sentence names exactly its entries (train --help prints the list itself).
TEST(ResumeKeys, TheCheckAndDocsConfigFollowTheOneList) {
  ds::register_analysis_sections();
  EXPECT_TRUE(ds::resume_may_change("train.epochs"));
  EXPECT_TRUE(ds::resume_may_change("analysis.features"));
  EXPECT_TRUE(ds::resume_may_change("linear_probe.grid"));
  EXPECT_TRUE(ds::resume_may_change("data.prefetch_batches"));
  EXPECT_FALSE(ds::resume_may_change("train.lr"));
  EXPECT_FALSE(ds::resume_may_change("data.train_limit"));
  EXPECT_FALSE(ds::resume_may_change("analysis"));  // a section needs its dot
  EXPECT_FALSE(ds::resume_may_change("model.layer"));

  std::ifstream f(std::string(DS_SOURCE_DIR) + "/docs/config.md");
  const std::string doc{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  const size_t from = doc.find("(only `"), to = doc.find("may change;", from);
  ASSERT_NE(from, std::string::npos) << "docs/config.md lost its sentence on the keys a resume may change";
  ASSERT_NE(to, std::string::npos);
  std::vector<std::string> documented;
  for (size_t a = doc.find('`', from); a < to; a = doc.find('`', doc.find('`', a + 1) + 1))
    documented.push_back(doc.substr(a + 1, doc.find('`', a + 1) - a - 1));
  std::vector<std::string> listed = ds::resume_changeable_keys();
  std::sort(documented.begin(), documented.end());
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(documented, listed);
}

// Every key of the table declares its effect, and the resume rule is that declaration:
// a key may change iff it changes neither the weights nor the training's own records,
// and the printed list (wildcards included) covers exactly those keys.
TEST(ResumeKeys, EveryKeyDeclaresItsEffectAndResumeReadsIt) {
  ds::register_analysis_sections();
  const std::vector<std::string> keys = ds::config_keys();
  ASSERT_FALSE(keys.empty());
  const auto& listed = ds::resume_changeable_keys();
  auto in_list = [&](const std::string& key) {
    for (const std::string& k : listed) {
      const bool section = k.size() > 2 && k.compare(k.size() - 2, 2, ".*") == 0;
      if (section ? key.rfind(k.substr(0, k.size() - 1), 0) == 0 : key == k) return true;
    }
    return false;
  };
  for (const std::string& k : keys) {
    const ds::KeyEffect e = ds::key_effect(k);
    const bool changes_training = e == ds::KeyEffect::weights || e == ds::KeyEffect::training_log;
    EXPECT_EQ(ds::resume_may_change(k), !changes_training) << k << " (" << ds::to_string(e) << ")";
    EXPECT_EQ(in_list(k), !changes_training) << k << " and train --help's list disagree";
  }
  for (const std::string& k : listed) {
    const bool section = k.size() > 2 && k.compare(k.size() - 2, 2, ".*") == 0;
    EXPECT_TRUE(section || std::count(keys.begin(), keys.end(), k)) << k << " is not a key";
  }
  // Streaming decodes the same batches as holding the set in memory (docs/scaling.md):
  // it changes nothing, for the resume check and for compare alike.
  for (const char* k : {"data.streaming", "data.memory_budget_mb", "data.reader_threads", "data.prefetch_batches"})
    EXPECT_EQ(int(ds::key_effect(k)), int(ds::KeyEffect::nothing)) << k;
  EXPECT_EQ(int(ds::key_effect("train.probe_batch")), int(ds::KeyEffect::training_log));
  EXPECT_EQ(int(ds::key_effect("model.layer #3")), int(ds::KeyEffect::weights));
  EXPECT_EQ(int(ds::key_effect("health.dominating_ratio")), int(ds::KeyEffect::results));
  EXPECT_TRUE(ds::resume_may_change("health.probe"));
}

// docs/config.md's table of effects states each key's declaration once more, for readers:
// every key of the table sits in exactly one row, the row of its effect.
TEST(ResumeKeys, DocsConfigTableOfEffectsFollowsTheDeclarations) {
  ds::register_analysis_sections();
  std::ifstream f(std::string(DS_SOURCE_DIR) + "/docs/config.md");
  const std::string doc{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  const size_t from = doc.find("### What changing a key changes");
  ASSERT_NE(from, std::string::npos) << "docs/config.md lost its table of what changing a key changes";
  const std::map<std::string, ds::KeyEffect> rows = {{"the weights", ds::KeyEffect::weights},
                                                     {"the training's own records", ds::KeyEffect::training_log},
                                                     {"results only", ds::KeyEffect::results},
                                                     {"nothing", ds::KeyEffect::nothing}};
  const std::vector<std::string> keys = ds::config_keys();
  std::map<std::string, int> seen;
  std::istringstream in(doc.substr(from));
  std::string line;
  while (std::getline(in, line) && line.rfind("| effect", 0) != 0) {}
  std::getline(in, line);  // |---|
  while (std::getline(in, line) && line.rfind("| ", 0) == 0) {
    const size_t a = line.find(" | "), b = line.find(" | ", a + 3);
    const auto row = rows.find(line.substr(2, a - 2));
    ASSERT_NE(row, rows.end()) << line;
    const std::string cell = line.substr(a + 3, b - a - 3);
    for (size_t q = cell.find('`'); q != std::string::npos; q = cell.find('`', cell.find('`', q + 1) + 1)) {
      const std::string word = cell.substr(q + 1, cell.find('`', q + 1) - q - 1);
      const bool section = word.size() > 2 && word.compare(word.size() - 2, 2, ".*") == 0;
      for (const std::string& k : keys)
        if (section ? k.rfind(word.substr(0, word.size() - 1), 0) == 0 : k == word) {
          ++seen[k];
          EXPECT_EQ(ds::to_string(ds::key_effect(k)), ds::to_string(row->second)) << k << " in row " << row->first;
        }
    }
  }
  for (const std::string& k : keys) EXPECT_EQ(seen[k], 1) << k << " should be in exactly one row";
}

// The registered sections sit where the config stage's table had them, after [analysis]
// and before [health], in the registry's order: config.cfg, a snapshot's config and --help
// read as before.
TEST(RegisteredSections, StandWhereTheTableHadThem) {
  ds::register_analysis_sections();
  ds::register_analysis_sections();  // a second call does nothing
  const std::vector<std::string> order = {"[run]",        "[data]",       "[model]",     "[train]",
                                          "[snapshot]",   "[analysis]",   "[invariance]", "[occlusion]",
                                          "[linear_probe]", "[similarity]", "[health]"};
  const ds::Config d = ds::load_config({});
  EXPECT_EQ(sections_of(d.text), order);
  EXPECT_EQ(sections_of(ds::config_help()), order);
  EXPECT_CONTAINS(d.text, "\n[analysis]\n");
  EXPECT_CONTAINS(d.text, "batch = 128\n\n[invariance]\nimages = test:0-4\nepochs = all\nlayers =\n");
  EXPECT_CONTAINS(d.text, "in_analyze = false\n\n[health]\nprobe = auto\n");
  EXPECT_CONTAINS(ds::config_help(), "  similarity.settle_threshold = 0.9\n");
}

// Values reach the analyses' accessors, the text reads back to the same config, and a
// config that sets nothing of a section gives its defaults.
TEST(RegisteredSections, ValuesReachTheirOwnersAndReadBack) {
  ds::register_analysis_sections();
  const ds::Config c = ds::load_config({"--invariance.epochs", "0,2", "--occlusion.layer", "conv2",
                                        "--linear_probe.layers", "conv1,fc6", "--similarity.settle_threshold", "0.85",
                                        "--similarity.in_analyze", "yes"});
  EXPECT_EQ(ds::invariance_config(c).epochs, (std::vector<int>{0, 2}));
  EXPECT_EQ(ds::occlusion_config(c).layer, "conv2");
  EXPECT_EQ(ds::linear_probe_config(c).layers, (std::vector<std::string>{"conv1", "fc6"}));
  EXPECT_EQ(ds::similarity_config(c).settle_threshold, 0.85f);
  EXPECT_TRUE(ds::similarity_config(c).in_analyze);
  const ds::Config b = ds::parse_config_text(c.text, "config.cfg");
  EXPECT_EQ(b.text, c.text);
  EXPECT_TRUE(ds::config_differences(b, c).empty());
  const auto d = ds::config_differences(ds::load_config({}), c);
  ASSERT_EQ(d.size(), 5u);
  EXPECT_EQ(d[0].key, "invariance.epochs");
  EXPECT_EQ(d[0].a, "all");
  EXPECT_EQ(d[0].b, "0,2");
  EXPECT_EQ(d[4].key, "similarity.in_analyze");
  const ds::Config none;
  EXPECT_EQ(ds::occlusion_config(none).size, 8);
  EXPECT_EQ(ds::similarity_config(none).settle_threshold, 0.9f);
  EXPECT_EQ(int(ds::key_effect("occlusion.size")), int(ds::KeyEffect::results));
}

// A bad value of a registered key is refused with the words the config stage used: the
// key where it was given, what was expected, what was found.
TEST(RegisteredSections, BadValuesAreRefusedAsBefore) {
  ds::register_analysis_sections();
  std::string msg = error_of([] { ds::load_config({"--similarity.settle_threshold", "1.5"}); });
  EXPECT_CONTAINS(msg, "command line: --similarity.settle_threshold");
  EXPECT_CONTAINS(msg, "expected a number in (0, 1], found 1.5");
  msg = error_of([] { ds::load_config({"--linear_probe.grid", "0"}); });
  EXPECT_CONTAINS(msg, "expected an integer in [1, 64], found 0");
  msg = error_of([] { ds::load_config({"--occlusion.size", "big"}); });
  EXPECT_CONTAINS(msg, "command line: --occlusion.size");
  EXPECT_CONTAINS(msg, "expected an integer in [1, 65536], found 'big'");
  msg = error_of([] { ds::load_config({"--invariance.in_analyze", "maybe"}); });
  EXPECT_CONTAINS(msg, "expected true or false, found 'maybe'");
  msg = error_of([] { ds::load_config({"--invariance.epochs", "1,x"}); });
  EXPECT_CONTAINS(msg, "expected a comma list of epochs >= 0 such as 0,1,2,5,10, found 'x' in '1,x'");
  msg = error_of([] { ds::load_config({"--invariance.scale", "0:2:0"}); });
  EXPECT_CONTAINS(msg, "command line: --invariance.scale");
  msg = error_of([] { ds::parse_config_text("[similarity]\ngrid = 2\nimages = 1\n", "a.cfg"); });
  EXPECT_CONTAINS(msg, "a.cfg:3: key similarity.images");
  EXPECT_CONTAINS(msg, "expected an integer >= 2, found 1");
  msg = error_of([] { ds::load_config({"--similarity.grids", "2"}); });
  EXPECT_CONTAINS(msg, "unknown key similarity.grids");
  EXPECT_CONTAINS(msg, "did you mean similarity.grid?");
}
