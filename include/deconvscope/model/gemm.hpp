// One matrix product on oneDNN's sgemm (JIT-compiled for the CPU's ISA), for analyses that
// need a large product outside a network: the similarity analysis' Gram matrices. About
// 20x faster than cv::gemm on the project's AVX-512 machine (2000 x 1536 features: 0.5 s
// against 11.6 s), which has no BLAS behind it there.
#pragma once

#include <cstdint>

namespace ds {

// c (m, n) = a (m, k) * b (n, k)' in float32, every matrix row-major and dense.
// ds::Error(internal) if oneDNN refuses the sizes.
void gemm_abt(const float* a, const float* b, int64_t m, int64_t n, int64_t k, float* c);

}  // namespace ds
