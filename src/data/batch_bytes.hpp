// Private to src/data: make_batch over images held as bytes, for the in-memory datasets and
// for the batches a streamed dataset has just decoded.
#pragma once

#include "deconvscope/data/dataset.hpp"

namespace ds {

// make_batch's work on d.pixels; `threads` false in the reader threads of a stream, which
// must not each start an OpenMP team of their own.
void make_batch_bytes(const Dataset& d, const int64_t* indices, int n, const Normalization& norm,
                      const Augmentation& aug, std::mt19937_64& rng, float* out, int32_t* labels_out, bool threads,
                      const BatchSlice& slice = {});

// The random draws make_batch takes from rng for n images.
uint64_t batch_draws(const Augmentation& aug, int n);

}  // namespace ds
