// See include/deconvscope/model/gemm.hpp.
#include "deconvscope/model/gemm.hpp"

#include <string>

#include <dnnl.h>

#include "deconvscope/core/error.hpp"

namespace ds {

void gemm_abt(const float* a, const float* b, int64_t m, int64_t n, int64_t k, float* c) {
  // dnnl_sgemm is row-major: C = alpha * op(A) op(B) + beta * C with op(B) = B'.
  const dnnl_status_t st = dnnl_sgemm('N', 'T', m, n, k, 1.f, a, k, b, k, 0.f, c, n);
  if (st != dnnl_success)
    throw Error(ErrorKind::internal, "gemm",
                "oneDNN sgemm refused (" + std::to_string(m) + " x " + std::to_string(k) + ") times (" +
                    std::to_string(n) + " x " + std::to_string(k) + ")': status " + std::to_string(int(st)),
                "a deconvscope bug");
}

}  // namespace ds
