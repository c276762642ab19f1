// Config sections that a higher stage owns (a "registered section"): an analysis declares
// once, in its own source, its [section], the keys in it and the section's default value,
// and registers it before any config that may name those keys is read (the command line
// does it first thing: register_analysis_sections, cli/analyses.hpp). Config keeps a
// registered section's value by name as std::any, its struct known only to its owner,
// which reads it through a typed accessor (config_section<S>).
//
// Every reader of the key table (load_config, parse_config_text, config_text, config_help,
// config_differences, config_keys, key_effect, the resume rule, config_entries) sees the
// registered keys as it sees the built-in ones: after [analysis] and before [health], the
// sections in registration order. A process that registers nothing does not know their
// keys: a config naming one is refused as naming an unknown key.
//
// The registry is guarded by a lock, but register before other threads read configs, so
// that every reader sees the same keys. A section may be registered once; its owner's
// register function registers on its first call only.
#pragma once

#include <any>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "deconvscope/config/config.hpp"

namespace ds {

// One key of the table, built-in or registered.
struct KeySpec {
  std::string key;            // "train.lr": its section, a dot, its name
  KeyEffect effect;           // what changing it changes: resume and compare read this
  const char* default_text;   // help text for the default; nullptr = the value in a default Config
  const char* meaning;        // one line for the help and docs
  std::function<std::string(const Config&)> get;  // the value as config text
  // Reads `value` into the config, or throws ds::Error(config) at `where` (config_value.hpp).
  std::function<void(Config&, const std::string& value, const std::string& where)> set;
};

// A section with its keys, in the order they are written; `defaults` holds the section's
// value for a config that does not set it (a value of the owner's struct).
struct RegisteredSection {
  std::string name;  // "similarity": every key is "similarity.<name>"
  std::any defaults;
  std::vector<KeySpec> keys;
};

// Adds a section to the key table. ds::Error(internal) for a name taken (built-in or
// registered before), no keys, or a key outside the section.
void register_config_section(RegisteredSection section);

// The value of section `name` in cfg: what it holds, else the registered default, else
// null (a section nobody registered, in a config that does not hold it).
const std::any* find_config_section(const Config& cfg, const std::string& name);

// The section's value, typed by its owner; the defaults when cfg does not hold it.
template <class S>
const S& config_section(const Config& cfg, const std::string& name) {
  static const S unregistered{};
  const std::any* v = find_config_section(cfg, name);
  return v ? std::any_cast<const S&>(*v) : unregistered;
}

// The same for changing it: cfg holds the section from now on (a copy of its defaults).
template <class S>
S& config_section(Config& cfg, const std::string& name) {
  auto it = cfg.sections.find(name);
  if (it == cfg.sections.end()) {
    const std::any* d = find_config_section(cfg, name);
    it = cfg.sections.emplace(name, d ? *d : std::any(S{})).first;
  }
  return std::any_cast<S&>(it->second);
}

// A key of a section whose value is an S: what its owner declares.
template <class S>
struct SectionKey {
  const char* key;  // "similarity.grid"
  KeyEffect effect;
  const char* default_text;  // nullptr = the value in S{}
  const char* meaning;
  std::string (*get)(const S&);
  void (*set)(S&, const std::string& value, const std::string& where);
};

// Registers section `name` of S's keys, with the value S{} where a config sets nothing.
template <class S>
void register_config_section(const std::string& name, const std::vector<SectionKey<S>>& keys) {
  RegisteredSection section{name, std::any(S{}), {}};
  for (const SectionKey<S>& k : keys)
    section.keys.push_back(KeySpec{
        k.key, k.effect, k.default_text, k.meaning,
        [get = k.get, name](const Config& c) { return get(config_section<S>(c, name)); },
        [set = k.set, name](Config& c, const std::string& v, const std::string& w) {
          set(config_section<S>(c, name), v, w);
        }});
  register_config_section(std::move(section));
}

}  // namespace ds
