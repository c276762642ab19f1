// See include/deconvscope/io/run_workspace.hpp.
#include "deconvscope/io/run_workspace.hpp"

#include "deconvscope/core/error.hpp"
#include "deconvscope/io/write_set.hpp"

namespace ds {

RunWorkspace::RunWorkspace(const std::string& dir, bool writes) : paths_(RunPaths::of(dir)), writes_(writes) {
  // Under mpirun the job is one writer: rank 0 holds the lock for all ranks (the others
  // only read the folder, and would otherwise find rank 0's lock and refuse).
  if (writes_) lock_.emplace(dir);
}

void RunWorkspace::create_folders() const {
  create_folder(paths_.analysis);
  create_folder(paths_.report);
}

void RunWorkspace::write_set(const std::string& command, const std::vector<std::string>& key_outputs,
                             const std::function<void()>& write) const {
  if (!writes_) {
    write();
    return;
  }
  std::vector<std::string> relative;
  for (const std::string& f : key_outputs) relative.push_back(paths_.relative(f));
  WriteSetMarker marker(paths_.dir, command, relative);
  try {
    write();
  } catch (const Error& e) {
    throw marker.failed(e);
  }
  marker.complete();
}

}  // namespace ds
