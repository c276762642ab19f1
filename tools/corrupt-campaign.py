#!/usr/bin/python3
"""Corrupted-snapshot campaign (issue 10): trains a tiny run, then damages its snapshot
files in many ways and runs `analyze`, `health` and `train --resume` on each, counting
signals (exit >= 128), hangs (timeouts), exit codes, and refusals that are not exit 2
naming the damaged file. Exits 1 if any signal, hang or such refusal was seen.

  tools/corrupt-campaign.py                 # 510 cases (1020 damaged files), ~40 min on 1 core
  tools/corrupt-campaign.py --cases 30      # a quick look
  tools/corrupt-campaign.py --keep DIR      # keep the work folder (and every failing case)

Damage, one kind per case, in rotation:
  flip      1..10 random bytes anywhere in the file XOR-ed with a random non-zero byte
  truncate  the file cut at a random length
  edit      one field set to a value without meaning with h5py (python3-h5py), then the
            checksum header left stale, re-sealed with a correct checksum (so the value
            checks are what must refuse it), or blanked (a file "from another tool")
Sealed classes (issue 21: a checksum proves the bytes, not that they are safe), each
re-sealed with a correct checksum so that only what is inside can refuse the file:
  reflip    1..3 bytes flipped in the HDF5 content, then re-sealed (libhdf5 used to crash
            or hang in-process on some of these)
  outside   an object reaching outside the file: an external link or external raw
            storage pointing at a FIFO or at a regular file, a soft link, a virtual dataset
  special   the file replaced by a FIFO, a folder, a symlink to /dev/zero, a dangling
            symlink, a 40 GiB sparse file, an empty file
  overflow  finite values that overflow the network or the next step: weights x1e30,
            momentum x1e30, input_std 1e-45
Each case damages snapshots/epoch-0001.h5 (for analyze and health) and last.h5 (for
train --resume) the same way. Needs build/deconvscope and /usr/share/datasets/fashion-mnist.

  tools/corrupt-campaign.py --kinds reflip,outside,special,overflow --cases 8   # the suite's sample
"""
import argparse
import collections
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER_BLOCK = 512

CONFIG = """[run]
name = campaign
dir = {run}
threads = 1
seed = 3
[data]
dataset = fashion-mnist
train_limit = 256
test_limit = 64
[model]
layer = conv1 conv out=4 kernel=5 stride=1 pad=2
layer = relu1 relu
layer = pool1 maxpool kernel=3 stride=2 pad=1
layer = norm1 lrn size=3 alpha=1e-4 beta=0.75 k=2
layer = conv2 conv out=6 kernel=3 stride=1 pad=1
layer = relu2 relu
layer = drop2 dropout rate=0.25
layer = fc3 fc out=10
[train]
epochs = 2
batch = 32
lr = 0.02
probe_batch = 32
[snapshot]
epochs = 0,1,2
[analysis]
features = 2
topk = 2
probe_limit = 32
batch = 16
"""


def seal(data: bytes) -> bytes:
    """The checksum header deconvscope writes (src/io/h5_checksum.cpp), over data[512:]."""
    content = data[USER_BLOCK:]
    head = ("deconvscope checksum\nversion 1\nlength %d\nsha256 %s\n"
            % (len(content), hashlib.sha256(content).hexdigest())).encode()
    return head.ljust(USER_BLOCK, b"\0") + content


# (description, function(h5py.File)) pairs: values without meaning, wrong types, missing parts.
def edits():
    import numpy as np
    f32, i32 = np.float32, np.int32

    def attr(path, name, value):
        def go(f):
            f[path].attrs[name] = value
        return go

    def dataset(path, fn):
        def go(f):
            d = f[path][()]
            del f[path]
            f[path] = fn(d)
        return go

    def delete(path, name=None):
        def go(f):
            if name is None:
                del f[path]
            else:
                del f[path].attrs[name]
        return go

    def nan_at(d):
        d = d.copy()
        d.flat[len(d.flat) // 2] = np.nan
        return d

    return [
        ("epoch 99", attr("/", "epoch", i32(99))),
        ("epoch -5", attr("/", "epoch", i32(-5))),
        ("epoch 2e9", attr("/", "epoch", i32(2000000000))),
        ("step -100", attr("/", "step", np.int64(-100))),
        ("step 3", attr("/", "step", np.int64(3))),
        ("num_classes -1", attr("/", "num_classes", i32(-1))),
        ("num_classes 11", attr("/", "num_classes", i32(11))),
        ("input_std 0", attr("/", "input_std", np.array([0], f32))),
        ("input_std nan", attr("/", "input_std", np.array([np.nan], f32))),
        ("input_std 2 values", attr("/", "input_std", np.array([1, 1], f32))),
        ("input_mean inf", attr("/", "input_mean", np.array([np.inf], f32))),
        ("input_shape 1x28x29", attr("/", "input_shape", np.array([1, 28, 29], i32))),
        ("format_version 2", attr("/", "format_version", i32(2))),
        ("format other", attr("/", "format", "someone.else")),
        ("layers reversed", attr("/", "layers", ["fc3", "drop2", "relu2", "conv2", "norm1", "pool1", "relu1", "conv1"])),
        ("layers name with escape", attr("/", "layers", ["conv1\x1b[31m", "relu1", "pool1", "norm1", "conv2", "relu2", "drop2", "fc3"])),
        ("val_accuracy 5", attr("/", "val_accuracy", f32(5))),
        ("train_loss nan", attr("/", "train_loss", f32(np.nan))),
        ("epoch as string", attr("/", "epoch", "one")),
        ("pool1 kernel 2", attr("/layers/pool1", "kernel", np.array([2, 2], i32))),
        ("pool1 kernel 3 pad 0", attr("/layers/pool1", "pad", np.array([0, 0], i32))),
        ("pool1 stride 0", attr("/layers/pool1", "stride", np.array([0, 0], i32))),
        ("norm1 beta nan", attr("/layers/norm1", "beta", f32(np.nan))),
        ("norm1 k 0", attr("/layers/norm1", "k", f32(0))),
        ("norm1 alpha -1", attr("/layers/norm1", "alpha", f32(-1))),
        ("norm1 size 4", attr("/layers/norm1", "size", i32(4))),
        ("drop2 rate 1.5", attr("/layers/drop2", "rate", f32(1.5))),
        ("conv1 out_channels 5", attr("/layers/conv1", "out_channels", i32(5))),
        ("conv1 type escape", attr("/layers/conv1", "type", "conv\x1b]0;pwned\x07")),
        ("conv1 kernel 3 values", attr("/layers/conv1", "kernel", np.array([5, 5, 5], i32))),
        ("conv2 weights nan", dataset("/layers/conv2/weights", nan_at)),
        ("fc3 bias float64", dataset("/layers/fc3/bias", lambda d: d.astype(np.float64))),
        ("fc3 weights wrong shape", dataset("/layers/fc3/weights", lambda d: d[:, :-1])),
        ("momentum inf", dataset("/optimizer/momentum/conv1/weights", lambda d: d * np.inf)),
        ("lr -1", attr("/optimizer", "lr", f32(-1))),
        ("epochs_since_best 99", attr("/optimizer", "epochs_since_best", i32(99))),
        ("rng_state garbage", attr("/optimizer", "rng_state", "not a state")),
        ("no conv2 group", delete("/layers/conv2")),
        ("no optimizer", delete("/optimizer")),
        ("no step", delete("/", "step")),
    ]


def outside_edits(scratch):
    """(description, function(h5py.File)): objects through which a file reaches outside itself."""
    import h5py
    import numpy as np
    fifo = os.path.join(scratch, "fifo")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    other = os.path.join(scratch, "other.h5")
    if not os.path.exists(other):
        with h5py.File(other, "w") as f:
            f["w"] = np.ones((4, 1, 5, 5), np.float32)
    raw = os.path.join(scratch, "raw.bin")
    with open(raw, "wb") as f:
        f.write(np.ones(4 * 25, np.float32).tobytes())
    W = "/layers/conv1/weights"

    def replace(make):
        def go(f):
            shape = f[W].shape
            del f[W]
            make(f, shape)
        return go

    def vds(target):
        def make(f, shape):
            layout = h5py.VirtualLayout(shape=shape, dtype="f4")
            layout[...] = h5py.VirtualSource(target, "w", shape=(4, 1, 5, 5))
            f.create_virtual_dataset(W, layout)
        return make

    return [
        ("external link to a FIFO", replace(lambda f, s: f.__setitem__(W, h5py.ExternalLink(fifo, "/w")))),
        ("external link to a file", replace(lambda f, s: f.__setitem__(W, h5py.ExternalLink(other, "/w")))),
        ("external storage in a FIFO", replace(lambda f, s: f.create_dataset(W, shape=s, dtype="f4", external=[(fifo, 0, 400)]))),
        ("external storage in a file", replace(lambda f, s: f.create_dataset(W, shape=s, dtype="f4", external=[(raw, 0, 400)]))),
        ("soft link", replace(lambda f, s: f.__setitem__(W, h5py.SoftLink("/layers/conv2/weights")))),
        ("virtual dataset of a FIFO", replace(vds(fifo))),
        ("virtual dataset of a file", replace(vds(other))),
    ]


def overflow_edits():
    import numpy as np

    def scale(path, factor):
        def go(f):
            d = f[path][()]
            f[path][...] = d * np.float32(factor)
        return go

    def attr(path, name, value):
        def go(f):
            f[path].attrs[name] = value
        return go
    return [
        ("conv2 weights x1e30", scale("/layers/conv2/weights", 1e30)),
        ("momentum x1e30", scale("/optimizer/momentum/conv1/weights", 1e30)),
        ("input_std 1e-45", attr("/", "input_std", np.array([1e-45], np.float32))),
    ]


SPECIAL = ["fifo", "folder", "symlink to /dev/zero", "dangling symlink", "40 GiB sparse", "empty"]


def make_special(path, what):
    """Replaces the file at path with a special file."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)
    if what == "fifo":
        os.mkfifo(path)
    elif what == "folder":
        os.mkdir(path)
    elif what == "symlink to /dev/zero":
        os.symlink("/dev/zero", path)
    elif what == "dangling symlink":
        os.symlink(path + ".nowhere", path)
    elif what == "40 GiB sparse":
        with open(path, "wb") as f:
            f.truncate(40 << 30)
    elif what == "empty":
        open(path, "wb").close()


def h5edit(data, fn, scratch):
    import h5py
    path = os.path.join(scratch, "edit.h5")
    with open(path, "wb") as f:
        f.write(data)
    with h5py.File(path, "r+") as f:
        fn(f)
    with open(path, "rb") as f:
        return f.read()


def corrupt(data: bytes, kind: str, rng: random.Random, scratch: str, edit_list):
    """Returns (damaged bytes, description); for kind special, (None, what to make)."""
    if kind == "reflip":
        b = bytearray(data)
        n = rng.randint(1, 3)
        at = sorted(rng.randrange(USER_BLOCK, len(b)) for _ in range(n))
        for i in at:
            b[i] ^= rng.randint(1, 255)
        return seal(bytes(b)), "flip %d bytes at %s, re-sealed" % (n, ",".join(map(str, at)))
    if kind == "outside":
        name, fn = rng.choice(outside_edits(scratch))
        return seal(h5edit(data, fn, scratch)), name + ", re-sealed"
    if kind == "overflow":
        name, fn = rng.choice(overflow_edits())
        return seal(h5edit(data, fn, scratch)), name + ", re-sealed"
    if kind == "special":
        return None, rng.choice(SPECIAL)
    if kind == "flip":
        b = bytearray(data)
        n = rng.randint(1, 10)
        at = sorted(rng.randrange(len(b)) for _ in range(n))
        for i in at:
            b[i] ^= rng.randint(1, 255)
        return bytes(b), "flip %d bytes at %s" % (n, ",".join(map(str, at)))
    if kind == "truncate":
        n = rng.randrange(len(data))
        return data[:n], "truncate to %d of %d bytes" % (n, len(data))
    import h5py
    name, fn = edit_list[rng.randrange(len(edit_list))]
    path = os.path.join(scratch, "edit.h5")
    with open(path, "wb") as f:
        f.write(data)
    with h5py.File(path, "r+") as f:
        fn(f)
    with open(path, "rb") as f:
        edited = f.read()
    mode = rng.choice(["stale", "resealed", "blanked"])
    if mode == "resealed":
        edited = seal(edited)
    elif mode == "blanked":
        edited = b"\0" * USER_BLOCK + edited[USER_BLOCK:]
    return edited, "edit %s, checksum %s" % (name, mode)


# Which commands must refuse a case (exit 2 naming the file); the others may also exit 0
# (a flipped byte no reader uses, momentum that only train --resume reads).
def must_refuse(kind, what, command):
    if kind in ("truncate", "outside", "special"):
        return True
    if kind == "overflow":
        return command == "train --resume" or not what.startswith("momentum")
    return False


def copy_plain(src, dst):
    """Keeps a failing case: regular files of sane size only (never a FIFO or /dev/zero's
    endless bytes, nor a 40 GiB sparse file); a special file is noted by name."""
    st = os.lstat(src)
    import stat
    if stat.S_ISREG(st.st_mode) and st.st_size < (1 << 30):
        shutil.copy2(src, dst)
    else:
        with open(dst + ".special", "w") as f:
            f.write("was a special or huge file, not copied\n")


def run(cmd, timeout, env):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)
        return p.returncode, p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return None, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=510)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "deconvscope"))
    ap.add_argument("--keep", help="work in this folder and keep it")
    ap.add_argument("--kinds", default="flip,truncate,edit,reflip,outside,special,overflow",
                    help="damage classes, in rotation (comma-separated)")
    a = ap.parse_args()
    if a.cases < 1 or a.timeout <= 0:
        sys.exit("corrupt-campaign: --cases and --timeout must be positive")
    if not os.access(a.bin, os.X_OK):
        sys.exit("corrupt-campaign: %s not found; build first (tools/build.sh)" % a.bin)
    try:
        edit_list = edits()
    except ImportError:
        # 77: ctest's skip code (CorruptCampaign.SealedSample), said rather than passed.
        print("corrupt-campaign: skipped: needs python3-h5py (tools/install-deps.sh --test installs it)")
        sys.exit(77)
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        print("corrupt-campaign: skipped: needs /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist)")
        sys.exit(77)
    work = a.keep or tempfile.mkdtemp(prefix="deconvscope-campaign-")
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")
    pristine = os.path.join(work, "pristine")
    cfg = os.path.join(work, "campaign.cfg")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(run=pristine))
    if not os.path.exists(os.path.join(pristine, "last.h5")):
        code, err = run([a.bin, "train", "--config", cfg, "--force"], 600, env)
        if code != 0:
            sys.exit("corrupt-campaign: training the tiny run failed (%s):\n%s" % (code, err))
    # A clean pass first: the untouched run must analyse, measure and resume. Resumes
    # extend the finished 2-epoch run by one, so that they read and use the whole state
    # (a finished run is "already complete" without loading its momentum).
    clean = os.path.join(work, "clean")
    shutil.rmtree(clean, ignore_errors=True)
    shutil.copytree(pristine, clean)
    for cmd in (["analyze", "--run", clean], ["health", "--run", clean],
                ["train", "--config", os.path.join(clean, "config.cfg"), "--run.dir", clean, "--resume",
                 "--train.epochs", "3"]):
        code, err = run([a.bin] + cmd, a.timeout, env)
        if code != 0:
            sys.exit("corrupt-campaign: the clean run fails %s (%s):\n%s" % (" ".join(cmd), code, err))
    shutil.rmtree(clean)

    rng = random.Random(a.seed)
    snap_bytes = open(os.path.join(pristine, "snapshots", "epoch-0001.h5"), "rb").read()
    last_bytes = open(os.path.join(pristine, "last.h5"), "rb").read()
    codes = collections.Counter()
    per_kind = collections.defaultdict(collections.Counter)
    problems = []
    case_dir = os.path.join(work, "case")
    kinds = a.kinds.split(",")
    known = {"flip", "truncate", "edit", "reflip", "outside", "special", "overflow"}
    if not kinds or not set(kinds) <= known:
        sys.exit("corrupt-campaign: --kinds takes %s" % ",".join(sorted(known)))
    for i in range(a.cases):
        kind = kinds[i % len(kinds)]
        shutil.rmtree(case_dir, ignore_errors=True)
        shutil.copytree(pristine, case_dir)
        snap = os.path.join(case_dir, "snapshots", "epoch-0001.h5")
        last = os.path.join(case_dir, "last.h5")
        bad_snap, what_snap = corrupt(snap_bytes, kind, rng, work, edit_list)
        bad_last, what_last = corrupt(last_bytes, kind, rng, work, edit_list)
        for path, bad_bytes, what in ((snap, bad_snap, what_snap), (last, bad_last, what_last)):
            if bad_bytes is None:
                make_special(path, what)
            else:
                with open(path, "wb") as f:
                    f.write(bad_bytes)
        jobs = [("analyze", [a.bin, "analyze", "--run", case_dir], snap, what_snap),
                ("health", [a.bin, "health", "--run", case_dir], snap, what_snap),
                ("train --resume", [a.bin, "train", "--config", cfg, "--run.dir", case_dir, "--resume",
                                    "--train.epochs", "3"], last, what_last)]
        for name, cmd, damaged, what in jobs:
            code, err = run(cmd, a.timeout, env)
            label = "hang" if code is None else ("signal %d" % -code if code < 0 else
                                                 "signal %d" % (code - 128) if code >= 128 else "exit %d" % code)
            codes[(name, label)] += 1
            per_kind[kind][label] += 1
            # Wrong: a hang, a signal, any exit but 0 and 2 (1 the disk, 3 divergence, 70 a
            # bug), a refusal that does not name the file, or exit 0 where it must refuse.
            bad = (code is None or code not in (0, 2) or (code == 2 and damaged not in err)
                   or (code == 0 and must_refuse(kind, what, name)))
            if bad:
                problems.append("case %d %s [%s] %s: %s\n  %s" % (i, name, kind, what, label, err.strip()[-400:]))
                if a.keep:
                    shutil.copytree(case_dir, os.path.join(work, "failed-%d-%s" % (i, name.split()[0])),
                                    symlinks=True, copy_function=copy_plain)
        print("case %d/%d %s: %s" % (i + 1, a.cases, kind, what_snap), file=sys.stderr)

    print("%d cases, %d damaged files, %d runs" % (a.cases, 2 * a.cases, 3 * a.cases))
    print("by command and outcome:")
    for (name, label), n in sorted(codes.items()):
        print("  %-15s %-10s %5d" % (name, label, n))
    print("by damage and outcome:")
    for kind in kinds:
        print("  %-9s %s" % (kind, ", ".join("%s: %d" % kv for kv in sorted(per_kind[kind].items()))))
    signals = sum(n for (_, l), n in codes.items() if l.startswith("signal"))
    hangs = sum(n for (_, l), n in codes.items() if l == "hang")
    print("signals: %d, hangs: %d, wrong exits (not exit 2 naming the file, or exit 0 on a file that must be "
          "refused): %d" % (signals, hangs, len(problems)))
    for p in problems:
        print(p)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
