// Helpers shared by the layer files: dims from shapes, reorders at layout boundaries, and
// oneDNN's errors turned into ours.
#include "deconvscope/model/layer.hpp"

namespace ds {

using dnnl::memory;

namespace {

// oneDNN's status by the name its C API gives it.
const char* dnnl_status_name(dnnl_status_t s) {
  switch (s) {
    case dnnl_success: return "dnnl_success";
    case dnnl_out_of_memory: return "dnnl_out_of_memory";
    case dnnl_invalid_arguments: return "dnnl_invalid_arguments";
    case dnnl_unimplemented: return "dnnl_unimplemented";
    case dnnl_iterator_ends: return "dnnl_iterator_ends";
    case dnnl_runtime_error: return "dnnl_runtime_error";
    case dnnl_not_required: return "dnnl_not_required";
  }
  return "an unknown oneDNN status";
}

}  // namespace

Error layer_dnnl_error(const LayerSpec& spec, const dnnl::error& e, const std::string& doing,
                       const memory::dims& src, const memory::dims& dst, ErrorKind kind, const std::string& hint) {
  return Error(kind,
               "layer " + spec.name + " (" + layer_type_name(spec.type) + ", src " + shape_str(src) + ", dst " +
                   shape_str(dst) + ")",
               "oneDNN failed " + doing + ": " + (e.message ? e.message : "no message") + " (status " +
                   dnnl_status_name(e.status) + ")",
               hint);
}

memory::desc Layer::build(Ctx& ctx, const memory::desc& src_md, const LayerShape& out) {
  try {
    return init(ctx, src_md, out);
  } catch (const dnnl::error& e) {
    // Our shape walk accepted the layer, oneDNN did not: the layer line is what the user can change.
    const bool flat = spec_.type == LayerType::fc || src_md.dims().size() == 2;
    throw layer_dnnl_error(spec_, e, "to create its primitives", src_md.dims(), to_dims(out, src_md.dims()[0], flat),
                           ErrorKind::shape,
                           "oneDNN " + std::to_string(dnnl_version()->major) + "." +
                               std::to_string(dnnl_version()->minor) +
                               " cannot run this layer with these shapes and types; change its line in the config");
  }
}

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
