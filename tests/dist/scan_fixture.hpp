// The scan that tests/dist runs both in one process and under `mpirun -np 2`
// (dist_scan_probe.cpp): a fixed random network over 61 random images, with pictures
// repeated in the same batch slot on both sides of the ranks' split (exact ties across
// ranks) and one feature that never fires (its ranks all empty, image -1).
#pragma once

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "deconvscope/analysis/deconvnet.hpp"
#include "model/test_util.hpp"

namespace ds::disttest {

inline std::vector<std::vector<Activation>> scan_fixture() {
  using namespace testutil;
  const InputShape in{1, 10, 10};
  Network net({conv("c1", 4, 3, 3, 1, 1), relu("r1"), maxpool("p1", 2, 2, 0), conv("c2", 5, 3, 3, 1, 1),
               relu("r2"), fc("f3", 3)},
              in, /*batch=*/8, /*seed=*/1);
  std::mt19937 rng(4);
  randomize_params(net, rng);
  for (size_t i = 0; i < net.size(); ++i)
    for (float& b : net.layer(i).params().bias.data) b += 0.1f;
  net.layer(3).params().bias.data[0] = -1e6f;  // c2 feature 0 never fires
  net.sync_params();

  Dataset d;
  d.channels = in.channels;
  d.height = in.height;
  d.width = in.width;
  d.num_classes = 3;
  d.source = "random";
  const int n = 61;  // 8 batches, the last one partial: rank 0 scans images 0..31, rank 1 32..60
  std::uniform_int_distribution<int> px(0, 255);
  d.pixels.resize(size_t(n) * d.image_bytes());
  for (uint8_t& p : d.pixels) p = uint8_t(px(rng));
  for (int i = 0; i < n; ++i) d.labels.push_back(i % 3);
  // Image 43 repeats image 3 and image 56 repeats image 24: same slot (i % 8), other rank.
  for (const auto& [to, from] : {std::pair<int, int>{43, 3}, {56, 24}})
    std::memcpy(d.pixels.data() + size_t(to) * d.image_bytes(), d.image(size_t(from)), d.image_bytes());
  const Normalization norm = compute_normalization(d);
  return scan_topk(net, d, norm, 0, {{/*conv=*/0, /*k=*/5}, {/*conv=*/3, /*k=*/40}}, nullptr, &Comm::world());
}

// The result as bytes, for comparing the processes' answers exactly.
inline std::string scan_bytes(const std::vector<std::vector<Activation>>& tops) {
  std::string out;
  for (const auto& t : tops) {
    for (const Activation& a : t) {
      out.append(reinterpret_cast<const char*>(&a.image), sizeof a.image);
      out.append(reinterpret_cast<const char*>(&a.y), sizeof a.y);
      out.append(reinterpret_cast<const char*>(&a.x), sizeof a.x);
      out.append(reinterpret_cast<const char*>(&a.value), sizeof a.value);
    }
  }
  return out;
}

}  // namespace ds::disttest
