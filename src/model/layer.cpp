// Helpers shared by the layer files: dims from shapes, reorders at layout boundaries.
#include "deconvscope/model/layer.hpp"

namespace ds {

using dnnl::memory;

memory::dims to_dims(const LayerShape& s, int64_t batch, bool flat) {
  if (flat) return {batch, s.channels};
  return {batch, s.channels, s.height, s.width};
}

memory reorder_if_needed(Ctx& ctx, const memory& src, const memory::desc& want, memory& scratch) {
  if (src.get_desc() == want) return src;
  if (!scratch || scratch.get_desc() != want) scratch = memory(want, ctx.eng);
  dnnl::reorder(src, scratch).execute(ctx.strm, const_cast<memory&>(src), scratch);
  return scratch;
}

void write_plain(Ctx& ctx, const Tensor& t, const memory::desc& plain_md, memory& dst) {
  memory plain(plain_md, ctx.eng, const_cast<float*>(t.ptr()));
  dnnl::reorder(plain, dst).execute(ctx.strm, plain, dst);
  ctx.strm.wait();
}

void read_plain(Ctx& ctx, const memory& src, const memory::desc& plain_md, Tensor& t) {
  memory plain(plain_md, ctx.eng, t.ptr());
  dnnl::reorder(src, plain).execute(ctx.strm, const_cast<memory&>(src), plain);
  ctx.strm.wait();
}

std::string Layer::output_type() const {
  return dst().get_desc().data_type() == dnnl::memory::data_type::bf16 ? "bf16" : "f32";
}

}  // namespace ds
