// The paper's network (configs/zfnet-imagenet.cfg): its map sizes are the paper's, its
// init is N(0, 0.01^2) with zero biases, and it trains two steps at batch 2 on a tiny
// synthetic folder of ImageNet layout (1000 class folders, images in a few), streamed;
// the bench runs on it. A real 224x224 epoch is far too slow for a test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "deconvscope/config/config.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/model/loss.hpp"
#include "deconvscope/model/network.hpp"
#include "deconvscope/train/bench.hpp"
#include "deconvscope/train/sgd.hpp"

namespace fs = std::filesystem;

namespace ds {
namespace {

const std::string kConfig = std::string(DS_SOURCE_DIR) + "/configs/zfnet-imagenet.cfg";

double rms(const float* p, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += double(p[i]) * p[i];
  return n ? std::sqrt(s / double(n)) : 0.0;
}

TEST(ZfnetImagenet, BuildsWithThePapersShapesAndSteps) {
  // train/ with the 1000 class folders of ImageNet (images in the first four), test/ with one.
  const fs::path root = fs::temp_directory_path() / ("deconvscope_zfnet_imagenet_" + std::to_string(::getpid()));
  fs::remove_all(root);
  std::mt19937 px(5);
  for (int c = 0; c < 1000; ++c) {
    char name[16];
    std::snprintf(name, sizeof name, "n%05d", c);
    fs::create_directories(root / "train" / name);
    if (c < 4) {
      cv::Mat img(40 + c, 50, CV_8UC3);
      cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(256));
      ASSERT_TRUE(cv::imwrite((root / "train" / name / "a.JPEG").string(), img));
    }
  }
  fs::create_directories(root / "test" / "n00002");
  ASSERT_TRUE(cv::imwrite((root / "test" / "n00002" / "v.JPEG").string(), cv::Mat(30, 30, CV_8UC3, cv::Scalar(1, 2, 3))));

  const Config cfg = load_config({"--config", kConfig, "--data.path", root.string(), "--data.streaming", "on",
                                  "--model.conv_algorithm", "direct", "--train.batch", "2"});
  EXPECT_FLOAT_EQ(cfg.train.lr, 0.01f);
  EXPECT_FLOAT_EQ(cfg.train.momentum, 0.9f);
  EXPECT_FLOAT_EQ(cfg.train.renorm_radius, 0.1f);
  EXPECT_EQ(cfg.train.init, InitScheme::gaussian);
  const DataSplits data = load_dataset(cfg.data);
  ASSERT_NE(data.train.stream, nullptr);
  ASSERT_EQ(data.train.size(), 4u);
  ASSERT_EQ(data.train.num_classes, 1000);
  ASSERT_EQ(data.train.channels, 3);
  ASSERT_EQ(data.train.height, 224);

  const int batch = 2;
  Network net(cfg.layers, InputShape{3, 224, 224}, batch, cfg.run.seed,
              NetworkOptions{cfg.conv_algorithm, cfg.train.precision, cfg.conv_algorithms});
  // The paper's Fig. 3: 110, 55, 26, 13, 13, 13, 6, then 4096, 4096, 1000.
  auto shape_of = [&](const std::string& name) {
    for (size_t i = 0; i < net.size(); ++i)
      if (net.specs()[i].name == name) return net.shapes()[i];
    ADD_FAILURE() << "no layer " << name;
    return LayerShape{};
  };
  auto expect_shape = [&](const std::string& name, int c, int hw) {
    const LayerShape s = shape_of(name);
    EXPECT_EQ(s.channels, c) << name;
    EXPECT_EQ(s.height, hw) << name;
    EXPECT_EQ(s.width, hw) << name;
  };
  expect_shape("conv1", 96, 110);
  expect_shape("norm1", 96, 55);
  expect_shape("conv2", 256, 26);
  expect_shape("norm2", 256, 13);
  expect_shape("conv3", 384, 13);
  expect_shape("conv4", 384, 13);
  expect_shape("conv5", 256, 13);
  expect_shape("pool5", 256, 6);
  expect_shape("fc6", 4096, 1);
  expect_shape("fc7", 4096, 1);
  expect_shape("fc8", 1000, 1);

  std::mt19937_64 rng(cfg.run.seed);
  init_params(net, cfg.train, rng);
  const LayerParams& conv1 = net.layer(0).params();
  EXPECT_NEAR(rms(conv1.weights.data.data(), conv1.weights.data.size()), 0.01, 0.001);  // N(0, 0.01^2)
  EXPECT_EQ(rms(conv1.bias.data.data(), conv1.bias.data.size()), 0.0);

  const Normalization norm = compute_normalization(data.train);
  const Augmentation aug{cfg.data.crop_pad, cfg.data.flip};
  std::vector<int64_t> order(data.train.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  prefetch_epoch(data.train, order, batch, norm, aug, rng);
  std::vector<float> input(size_t(batch) * data.train.image_bytes());
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  std::vector<float> diff(size_t(batch) * 1000);
  std::vector<LayerParams> momentum;
  const std::vector<float> before = conv1.weights.data;
  for (int step = 0; step < 2; ++step) {
    make_batch(data.train, order.data() + step * batch, batch, norm, aug, rng, input.data(), labels.data());
    net.set_step(uint64_t(step));
    net.forward(input.data(), Mode::train);
    const LossResult r = softmax_cross_entropy(net.logits(), labels.data(), batch, 1000, diff.data());
    ASSERT_TRUE(std::isfinite(r.loss_sum));
    EXPECT_NEAR(r.loss_sum / batch, std::log(1000.0), 0.5);  // near-uniform output at init
    net.backward(diff.data());
    sgd_step(net, momentum, cfg.train.lr, cfg.train.momentum, cfg.train.weight_decay, nullptr);
    renormalize_filters(net, cfg.train.renorm_radius);
    net.sync_params();
  }
  EXPECT_NE(net.layer(0).params().weights.data, before);
  // Renormalisation: no conv filter above the radius.
  for (size_t i = 0; i < net.size(); ++i) {
    if (net.specs()[i].type != LayerType::conv) continue;
    const Tensor& w = net.layer(i).params().weights;  // (O, I, kh, kw)
    const size_t per = w.data.size() / size_t(w.dims[0]);
    for (int64_t o = 0; o < w.dims[0]; ++o)
      EXPECT_LE(rms(w.data.data() + size_t(o) * per, per), 0.1 * (1 + 1e-5)) << net.specs()[i].name << " filter " << o;
  }
  fs::remove_all(root);
}

TEST(ZfnetImagenet, BenchRunsWithoutImages) {
  // The full config's batch of 128 takes seconds a step here; the shape is what is tested.
  const Config cfg = load_config({"--config", kConfig, "--train.batch", "2", "--model.conv_algorithm", "direct"});
  BenchOptions opt;
  opt.iters = 1;
  opt.warmup = 0;
  const BenchResult r = run_bench(cfg, opt);
  EXPECT_GT(r.train_images_per_s, 0.0);
  EXPECT_TRUE(std::isfinite(r.infer_images_per_s));
}

}  // namespace
}  // namespace ds
