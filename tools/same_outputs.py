#!/usr/bin/python3
"""Do two run folders hold the same results? For a refactor that must not change them.

Compares, between run folder A and B: every dataset and attribute of every HDF5 file in
snapshots/ and analysis/ (values exactly, dtypes and shapes; attributes that name the
folder, the time, or the checksum of a file that holds either are skipped, and the config text is compared
without its run.dir line; float NaN equals NaN, which analysis.h5's init_rank_correlation
holds where a feature is inactive), every PNG in report/ and every CSV in analysis/ and in
the folder itself (bytes, with the folder holding the run spelt alike; a compare --out folder keeps its CSVs there; metrics.csv, whose
seconds and images per second vary with the machine's load, is left out).
Prints each difference and exits 1 if there is one. Needs h5py: the shebang names Debian's
/usr/bin/python3, the interpreter `tools/install-deps.sh --test` installs python3-h5py for
(a python3 earlier in PATH, from a venv or conda, may not have it).
Usage: tools/same_outputs.py RUN_A RUN_B   (or /usr/bin/python3 tools/same_outputs.py RUN_A RUN_B)
"""
import hashlib
import os
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:
    sys.exit(f"same_outputs.py: {e} in {sys.executable}; run it with /usr/bin/python3 "
             "(sudo apt-get install python3-h5py, or tools/install-deps.sh --test, installs h5py there)")

# Attributes that legitimately differ between two runs of the same computation.
SKIP_ATTRS = {"created", "run_dir", "dataset_path", "content_sha256", "snapshot_sha256", "analysis_sha256", "written_by"}


def h5_items(path):
    items = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            for k, v in obj.attrs.items():
                if k in SKIP_ATTRS:
                    continue
                if k == "config":  # the effective config names the run's folder (run.dir)
                    text = v.decode() if isinstance(v, bytes) else str(v)
                    v = "\n".join(l for l in text.splitlines() if not l.replace(" ", "").startswith("dir="))
                items[f"{name or '/'}@{k}"] = np.array(v)
            if isinstance(obj, h5py.Dataset):
                items[name] = obj[()]
        visit("", f)
        f.visititems(visit)
    return items


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True)
    return np.array_equal(a, b)


def files(root, sub, ext):
    d = os.path.join(root, sub)
    if not os.path.isdir(d):
        return set()
    return {n for n in os.listdir(d) if n.endswith(ext) and not n.startswith(".")}


def csv_text(root, sub, name):
    """A CSV's bytes with the folder that holds `root` spelt <root>: compare.csv names each
    run's folder, which sits beside the compare folder."""
    data = open(os.path.join(root, sub, name), "rb").read()
    return data.replace(os.path.dirname(os.path.abspath(root)).encode(), b"<root>")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    a, b = sys.argv[1], sys.argv[2]
    problems, checked = [], 0
    for sub in ("snapshots", "analysis"):
        fa, fb = files(a, sub, ".h5"), files(b, sub, ".h5")
        for n in sorted(fa ^ fb):
            problems.append(f"{sub}/{n}: only in {'A' if n in fa else 'B'}")
        for n in sorted(fa & fb):
            ia, ib = h5_items(os.path.join(a, sub, n)), h5_items(os.path.join(b, sub, n))
            for k in sorted(set(ia) ^ set(ib)):
                problems.append(f"{sub}/{n}: {k} only in {'A' if k in ia else 'B'}")
            for k in sorted(set(ia) & set(ib)):
                checked += 1
                if not same(ia[k], ib[k]):
                    problems.append(f"{sub}/{n}: {k} differs")
    pa, pb = files(a, "report", ".png"), files(b, "report", ".png")
    for n in sorted(pa ^ pb):
        problems.append(f"report/{n}: only in {'A' if n in pa else 'B'}")
    for n in sorted(pa & pb):
        checked += 1
        ha = hashlib.sha256(open(os.path.join(a, "report", n), "rb").read()).hexdigest()
        hb = hashlib.sha256(open(os.path.join(b, "report", n), "rb").read()).hexdigest()
        if ha != hb:
            problems.append(f"report/{n}: bytes differ")
    for sub in ("analysis", ""):
        ca, cb = files(a, sub, ".csv") - {"metrics.csv"}, files(b, sub, ".csv") - {"metrics.csv"}
        for n in sorted(ca ^ cb):
            problems.append(f"{os.path.join(sub, n)}: only in {'A' if n in ca else 'B'}")
        for n in sorted(ca & cb):
            checked += 1
            if csv_text(a, sub, n) != csv_text(b, sub, n):
                problems.append(f"{os.path.join(sub, n)}: bytes differ")
    for p in problems:
        print(p)
    print(f"{checked} datasets, attributes, pictures and CSVs compared; {len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
