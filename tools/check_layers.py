#!/usr/bin/env python3
"""Checks that #include lines run one way between the stages (docs/architecture.md):

    core <- config, io, data <- model <- train, analysis <- report <- cli

A file may include its own stage and the stages before it; within the second stage io and
data may use config (the layer specs and keys they read), but not each other; train and
analysis never include each other. Prints every violation and exits 1 if there is one.
Usage: tools/check_layers.py [REPO_ROOT]
       tools/check_layers.py --self-test   (the checker finds a planted violation)
"""
import os
import re
import sys

RANK = {"core": 0, "config": 1, "io": 1, "data": 1, "model": 2, "train": 3, "analysis": 3, "report": 4, "cli": 5}
# Pairs of one rank where the first may use the second.
SAME_RANK_ALLOWED = {("io", "config"), ("data", "config")}
INCLUDE = re.compile(r'^\s*#\s*include\s+"deconvscope/([a-z_]+)/')


def stage_of(root, path):
    rel = os.path.relpath(path, root).split(os.sep)
    if rel[0] == "include" and len(rel) > 2 and rel[1] == "deconvscope":
        return rel[2]
    if rel[0] == "src" and len(rel) > 1:
        return rel[1]
    return None


def allowed(src, dst):
    if src == dst:
        return True
    if RANK[dst] < RANK[src]:
        return True
    return RANK[dst] == RANK[src] and (src, dst) in SAME_RANK_ALLOWED


def violations(root):
    bad = []
    checked = 0
    for top in ("include", "src"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                if not name.endswith((".hpp", ".cpp")):
                    continue
                path = os.path.join(dirpath, name)
                src = stage_of(root, path)
                if src not in RANK:
                    bad.append(f"{os.path.relpath(path, root)}: not in a known stage ({src})")
                    continue
                checked += 1
                with open(path, encoding="utf-8") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        dst = m.group(1)
                        if dst not in RANK:
                            bad.append(f"{os.path.relpath(path, root)}:{n}: includes unknown stage '{dst}'")
                        elif not allowed(src, dst):
                            bad.append(f"{os.path.relpath(path, root)}:{n}: stage '{src}' includes '{dst}' "
                                       f"({line.strip()}); includes run core <- config/io/data <- model <- "
                                       "train/analysis <- report <- cli")
    return checked, bad


def self_test():
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        files = {
            "src/analysis/a.cpp": '#include "deconvscope/model/network.hpp"\n',       # allowed
            "src/io/b.cpp": '#include "deconvscope/config/config.hpp"\n',             # allowed
            "src/analysis/c.cpp": '#include "deconvscope/report/html_report.hpp"\n',  # upward
            "include/deconvscope/model/d.hpp": '#include "deconvscope/io/snapshot.hpp"\n',  # allowed
            "src/io/e.cpp": '#include "deconvscope/data/dataset.hpp"\n',              # sideways
            "src/train/f.cpp": '#  include "deconvscope/analysis/run.hpp"\n',         # sibling
        }
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        checked, bad = violations(root)
        found = sorted(b.split(":")[0] for b in bad)
        expected = ["src/analysis/c.cpp", "src/io/e.cpp", "src/train/f.cpp"]
        if checked != 6 or found != expected:
            print(f"self-test failed: checked {checked}, flagged {found}, expected {expected}")
            return 1
    print("self-test passed: the three planted violations were found, the three allowed includes were not")
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        return self_test()
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    checked, bad = violations(root)
    for b in bad:
        print(b)
    print(f"{checked} files checked, {len(bad)} violation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
