// The Convergence headline (report/convergence_section.hpp) on hand-made numbers whose
// answers are known: CKA to final that settles at a known snapshot, one that meets the
// threshold only at the last snapshot (which the table must not call settled), probe
// accuracies with a known gain over the pixel floor and one below it, and known jumps.
// And that nothing on the section says "converged". The similarity and the probes come in
// as their measures (report/similarity_page.hpp, linear_probe_page.hpp), as the registry
// hands them to the report; a made-up measure shows that a further one needs nothing else.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "deconvscope/analysis/linear_probe.hpp"
#include "deconvscope/analysis/similarity.hpp"
#include "deconvscope/report/convergence_section.hpp"
#include "deconvscope/report/linear_probe_page.hpp"
#include "deconvscope/report/similarity_page.hpp"

namespace ds {
namespace {

// Two analysed conv layers over snapshots 0, 1, 2, 3, 4, two followed features each:
// conv1 jumps once (0 -> 1), conv2 twice into 2 and once into 3.
AnalysisResult hand_made_analysis() {
  AnalysisResult r;
  r.epochs = {0, 1, 2, 3, 4};
  r.layers = {"conv1", "conv2"};
  const size_t E = 5, F = 2;
  const std::vector<std::vector<uint8_t>> jumps = {{1, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 1, 1, 1, 0, 0, 0}};
  for (size_t l = 0; l < 2; ++l) {
    LayerEvolution ev;
    ev.layer = r.layers[l];
    ev.features = {0, 1};
    for (size_t i = 0; i < E * F; ++i) ev.strongest.push_back(Activation{int32_t(i), 0, 0, 1.f});
    LayerJumps j;
    j.jump = jumps[l];
    j.image_changed = jumps[l];
    j.went_silent.assign((E - 1) * F, 0);
    j.came_back.assign((E - 1) * F, 0);
    r.evolution.push_back(ev);
    r.jumps.push_back(j);
  }
  return r;
}

// CKA to final, known settling at 0.9: conv1 at 1 (a dip before it), conv2 only at the
// last snapshot, fc6 (not analysed, measured) at 2.
std::shared_ptr<SimilarityResult> hand_made_similarity() {
  auto s = std::make_shared<SimilarityResult>();
  s->epochs = {0, 1, 2, 3, 4};
  s->layers = {"conv1", "conv2", "fc6"};
  s->image_count = 500;
  const std::vector<std::vector<float>> curves = {
      {0.5f, 0.95f, 0.92f, 0.97f, 1.f}, {0.2f, 0.5f, 0.93f, 0.85f, 1.f}, {0.1f, 0.3f, 0.91f, 0.95f, 1.f}};
  s->to_final.resize(15);
  s->to_previous.assign(15, 0.5f);
  s->layer_by_layer.assign(45, 0.5f);
  for (size_t e = 0; e < 5; ++e)
    for (size_t l = 0; l < 3; ++l) s->to_final[s->index(e, l)] = curves[l][e];
  return s;
}

// Probes with a pixel floor of 80%: conv1 gains 10 points and keeps >= 90% of them from
// epoch 2 (gain 0.95 there, 0.5 at 1); conv2 ends below the floor.
std::shared_ptr<LinearProbeResult> hand_made_probes() {
  auto p = std::make_shared<LinearProbeResult>();
  p->epochs = {0, 1, 2, 3, 4};
  p->layers = {kPixelsRow, "conv1", "conv2", kNetworkRow};
  const std::vector<std::vector<float>> acc = {{0.8f, 0.8f, 0.8f, 0.8f, 0.8f},
                                               {0.8f, 0.85f, 0.895f, 0.9f, 0.9f},
                                               {0.79f, 0.8f, 0.81f, 0.82f, 0.78f},
                                               {0.5f, 0.8f, 0.85f, 0.88f, 0.9f}};
  p->test_accuracy.resize(20);
  for (size_t e = 0; e < 5; ++e)
    for (size_t l = 0; l < 4; ++l) p->test_accuracy[p->index(e, l)] = acc[l][e];
  p->train_accuracy = p->test_accuracy;
  p->feature_dim = {784, 16, 24, 10};
  return p;
}

// The <tr> of `layer` in the headline table.
std::string row_of(const std::string& html, const std::string& layer) {
  const size_t table = html.find("id=\"convergence-headline\"");
  const size_t at = html.find("<tr><td>" + layer + "</td>", table);
  if (table == std::string::npos || at == std::string::npos) return "";
  return html.substr(at, html.find("</tr>", at) - at);
}

ReportContext context() {
  ReportContext ctx;
  ctx.paths = RunPaths::of("runs/hand-made");
  return ctx;
}

// The registry's two measures, in its order (probes, then similarity), from results in memory.
std::vector<ConvergenceMeasure> measures(std::shared_ptr<const SimilarityResult> similarity,
                                         std::shared_ptr<const LinearProbeResult> probes,
                                         double settle_threshold = 0.9, const std::string& problem = "") {
  return {linear_probe_measure(probes, "runs/hand-made"),
          similarity_measure(similarity, problem, settle_threshold, "runs/hand-made")};
}

TEST(ConvergenceHeadline, KnownSettlingEpochsProbesAndJumps) {
  ReportContext ctx = context();
  ctx.convergence = measures(hand_made_similarity(), hand_made_probes());
  const AnalysisResult r = hand_made_analysis();
  const std::string html = convergence_section_html(ctx, r, "convergence.png");

  const std::string conv1 = row_of(html, "conv1"), conv2 = row_of(html, "conv2"), fc6 = row_of(html, "fc6");
  ASSERT_FALSE(conv1.empty()) << html;
  ASSERT_FALSE(conv2.empty()) << html;
  ASSERT_FALSE(fc6.empty()) << "a layer the similarity measured beside the analysed ones gets a row:\n" << html;
  // Columns in order: settles, useful, jumps.
  EXPECT_NE(conv1.find("<td class=\"num\">epoch 1</td><td class=\"num\">epoch 2, final 90.0%</td>"
                       "<td class=\"num\">1 0 0 0 (of 2)</td>"),
            std::string::npos)
      << conv1;
  EXPECT_NE(conv2.find("<td>not before the last snapshot (epoch 4)</td><td>no gain over the floor (final 78.0%)</td>"
                       "<td class=\"num\">0 2 1 0 (of 2)</td>"),
            std::string::npos)
      << conv2;
  EXPECT_NE(fc6.find("<td class=\"num\">epoch 2</td><td>not probed (not in linear_probe.layers)</td>"
                     "<td>not followed (conv layers only)</td>"),
            std::string::npos)
      << fc6;
  // The definitions name the threshold and the floor; the plot is there.
  EXPECT_NE(html.find("stays at or above 0.90"), std::string::npos);
  EXPECT_NE(html.find("80.0% test accuracy"), std::string::npos);
  EXPECT_NE(html.find("in order: 0&rarr;1, 1&rarr;2, 2&rarr;3, 3&rarr;4."), std::string::npos);
  EXPECT_NE(html.find("data:image/png;base64,"), std::string::npos);
  // The weights stay as curves, without an answer that reads as convergence.
  EXPECT_NE(html.find("src=\"convergence.png\""), std::string::npos);
  EXPECT_EQ(html.find("onverged"), std::string::npos) << html;

  // The threshold is the config key's: at 0.96 conv1 settles only at 3, fc6 not before the last.
  ctx.convergence = measures(hand_made_similarity(), hand_made_probes(), 0.96f);
  const std::string strict = convergence_section_html(ctx, r, "");
  EXPECT_NE(row_of(strict, "conv1").find("<td class=\"num\">epoch 3</td>"), std::string::npos);
  EXPECT_NE(row_of(strict, "fc6").find("<td>not before the last snapshot (epoch 4)</td>"), std::string::npos);
  EXPECT_EQ(strict.find("src=\"convergence.png\""), std::string::npos);
}

TEST(ConvergenceHeadline, WithoutSimilarityOrProbesSaysHowToGetThem) {
  ReportContext ctx = context();
  ctx.convergence = measures(nullptr, nullptr, 0.9, "no runs/hand-made/analysis/similarity.h5");
  const std::string html = convergence_section_html(ctx, hand_made_analysis(), "convergence.png");
  EXPECT_NE(html.find("deconvscope similarity --run runs/hand-made"), std::string::npos) << html;
  EXPECT_NE(html.find("similarity.in_analyze = true"), std::string::npos);
  EXPECT_NE(html.find("deconvscope linear-probe --run runs/hand-made"), std::string::npos);
  EXPECT_NE(html.find("no runs/hand-made/analysis/similarity.h5"), std::string::npos);
  // The jumps are there; the other two cells are empty, not guessed.
  EXPECT_NE(row_of(html, "conv2").find("<td class=\"none\">&ndash;</td><td class=\"none\">&ndash;</td>"
                                       "<td class=\"num\">0 2 1 0 (of 2)</td>"),
            std::string::npos)
      << html;
  EXPECT_EQ(html.find("data:image/png;base64,"), std::string::npos) << "no CKA plot without the similarity";
  EXPECT_EQ(html.find("onverged"), std::string::npos);
}

// Similarity computed before the run grew: said, with the command that brings it up to date.
TEST(ConvergenceHeadline, AStaleSimilarityIsSaid) {
  ReportContext ctx = context();
  ctx.convergence = measures(hand_made_similarity(), nullptr);
  const AnalysisResult r = hand_made_analysis();
  EXPECT_EQ(convergence_section_html(ctx, r, "").find("again to measure"), std::string::npos);
  AnalysisResult grown = r;
  grown.epochs.back() = 6;  // the run went on to epoch 6 and was analysed again since
  const std::string html = convergence_section_html(ctx, grown, "");
  EXPECT_NE(html.find("The similarity figures end at epoch 4, the analysis at epoch 6: run <code>deconvscope "
                      "similarity --run runs/hand-made</code> again"),
            std::string::npos)
      << html;
}

// The table's columns are the measures' (in headline order), then the deconvnet's own.
TEST(ConvergenceHeadline, ColumnsAreOneListToExtend) {
  ReportContext ctx = context();
  ctx.convergence = measures(hand_made_similarity(), nullptr);
  const AnalysisResult r = hand_made_analysis();
  const std::vector<ConvergenceColumn> columns = convergence_columns(ctx, r);
  ASSERT_EQ(columns.size(), 4u);
  EXPECT_EQ(columns[0].header_html, "representation settles at");
  EXPECT_EQ(columns[1].header_html, "features become useful at");
  EXPECT_EQ(columns[2].header_html, "jumps per transition");
  EXPECT_EQ(columns[3].header_html, "pictures like the first snapshot's");
  EXPECT_EQ(convergence_layers(ctx, r), (std::vector<std::string>{"conv1", "conv2", "fc6"}));
}

// A measure the report has never heard of: a column whose cells name the layer, a layer
// of its own (fc7), a definition, a figure, a stale note and a Summary row.
ConvergenceMeasure made_up_measure(int headline_order) {
  ConvergenceMeasure m;
  m.csv_columns = {"made_up"};
  m.csv_cells = [](CsvRow& row, const std::string& layer, int epoch) { row.text(layer + "@" + std::to_string(epoch)); };
  m.headline_order = headline_order;
  m.header_html = "made-up answer";
  m.definition_html = "<b>Made-up answer</b>: a test's.";
  m.cell_html = [](const std::string& layer) { return "<td>made up for " + layer + "</td>"; };
  m.layers = {"conv2", "fc7"};
  m.epochs = {0, 3};
  m.stale_what = "made-up figures";
  m.command = "made-up";
  m.figure_html = [] { return std::string("<figure>made-up figure</figure>\n"); };
  m.summary_rows = {{"Made-up setting", "42"}};
  return m;
}

TEST(ConvergenceHeadline, AFurtherMeasureAddsItsColumnWithoutNamingIt) {
  ReportContext ctx = context();
  ctx.convergence = measures(hand_made_similarity(), hand_made_probes());
  ctx.convergence.push_back(made_up_measure(/*headline_order=*/5));
  const AnalysisResult r = hand_made_analysis();
  const std::string html = convergence_section_html(ctx, r, "");
  // After the similarity's and the probes' columns, before the deconvnet's own.
  EXPECT_NE(html.find("<th>features become useful at</th><th>made-up answer</th><th>jumps per transition</th>"),
            std::string::npos)
      << html;
  EXPECT_NE(row_of(html, "conv1").find("<td>made up for conv1</td><td class=\"num\">1 0 0 0 (of 2)</td>"),
            std::string::npos)
      << html;
  // Its own layer comes after the similarity's fc6, once.
  EXPECT_EQ(convergence_layers(ctx, r), (std::vector<std::string>{"conv1", "conv2", "fc6", "fc7"}));
  EXPECT_NE(row_of(html, "fc7").find("<td>not measured (not in similarity.layers)</td><td>not probed (not in "
                                     "linear_probe.layers)</td><td>made up for fc7</td>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<p class=\"hint\"><b>Made-up answer</b>: a test's.</p>"), std::string::npos);
  EXPECT_NE(html.find("The made-up figures end at epoch 3, the analysis at epoch 4: run <code>deconvscope made-up "
                      "--run runs/hand-made</code> again"),
            std::string::npos);
  EXPECT_NE(html.find("<figure>made-up figure</figure>"), std::string::npos);
  // A smaller headline_order puts it first.
  ctx.convergence.back() = made_up_measure(/*headline_order=*/-1);
  EXPECT_NE(convergence_section_html(ctx, r, "").find("<th>layer</th><th>made-up answer</th>"
                                                      "<th>representation settles at</th>"),
            std::string::npos);
}

TEST(ProbeGain, MeasuredAgainstTheFloor) {
  const std::shared_ptr<LinearProbeResult> p = hand_made_probes();
  EXPECT_FLOAT_EQ(probe_floor(*p), 0.8f);
  const std::vector<float> g = probe_gain_curve(*p, 1);
  ASSERT_EQ(g.size(), 5u);
  EXPECT_NEAR(g[0], 0.0, 1e-5);
  EXPECT_NEAR(g[1], 0.5, 1e-5);
  EXPECT_NEAR(g[2], 0.95, 1e-5);
  EXPECT_NEAR(g[4], 1.0, 1e-6);
  EXPECT_EQ(probe_useful_at(*p, 1), 2);
  EXPECT_EQ(probe_useful_at(*p, 2), -1) << "below the floor at the end: no gain";
  EXPECT_TRUE(std::isnan(probe_gain_curve(*p, 2)[0]));
  EXPECT_EQ(probe_useful_at(*p, 3), 4);  // the network: gains -3, 0, 0.5, 0.8, 1: only at the last
  EXPECT_EQ(first_epoch_staying_at_or_above({0, 1, 2}, {1.f, 0.5f, 1.f}, 0.9), 2);
  EXPECT_EQ(first_epoch_staying_at_or_above({0, 1, 2}, {1.f, 1.f, NAN}, 0.9), -1);
}

}  // namespace
}  // namespace ds
