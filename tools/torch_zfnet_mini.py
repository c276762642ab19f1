#!/usr/bin/python3
"""The peer of `deconvscope bench`: the zfnet-mini network of docs/benchmark.md in
PyTorch on the CPU, timed the way our bench times it (docs/benchmark.md, "How a figure is
taken"), so that tools/bench_vs_torch.sh can quote a ratio.

Needs Debian's PyTorch, whose convolutions run on the same oneDNN 2.6 as ours (not a
dependency of deconvscope itself):
    apt-get install -y python3-torch libopenblas0-openmp
Usage:
    /usr/bin/python3 tools/torch_zfnet_mini.py [--threads 2] [--batch 128] [--iters 30]
        [--warmup 5] [--channels-last] [--precision f32|bf16]
Prints one line:
    torch train_images_per_s=N infer_images_per_s=N mode=M threads=T batch=B

Modes: the default stores activations NCHW; --channels-last stores them NHWC (PyTorch's
own advice for oneDNN on the CPU); --precision bf16 runs forward and backward under
torch.autocast("cpu", torch.bfloat16) with float32 master weights.
"""
import argparse
import contextlib
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    sys.exit("torch_zfnet_mini.py: PyTorch not found; install Debian's with "
             "apt-get install -y python3-torch libopenblas0-openmp, and run /usr/bin/python3")


def zfnet_mini(classes=10):
    """docs/benchmark.md's table, layer for layer (1x28x28 input)."""
    def norm():
        return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=5, stride=1, padding=2), nn.ReLU(),    # (N, 32, 28, 28)
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1), norm(),            # (N, 32, 14, 14)
        nn.Conv2d(32, 64, kernel_size=5, stride=1, padding=2), nn.ReLU(),   # (N, 64, 14, 14)
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1), norm(),            # (N, 64, 7, 7)
        nn.Conv2d(64, 96, kernel_size=3, stride=1, padding=1), nn.ReLU(),   # (N, 96, 7, 7)
        nn.Conv2d(96, 96, kernel_size=3, stride=1, padding=1), nn.ReLU(),   # (N, 96, 7, 7)
        nn.Conv2d(96, 64, kernel_size=3, stride=1, padding=1), nn.ReLU(),   # (N, 64, 7, 7)
        nn.MaxPool2d(kernel_size=3, stride=2, padding=0),                    # (N, 64, 3, 3)
        nn.Flatten(),                                                        # (N, 576)
        nn.Linear(576, 256), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(256, classes))                                             # (N, 10) logits


def images_per_s(fn, batch, warmup, iters):
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return iters * batch / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--iters", type=int, default=30, help="timed steps per figure")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before each figure")
    ap.add_argument("--channels-last", action="store_true", help="NHWC activations")
    ap.add_argument("--precision", choices=["f32", "bf16"], default="f32",
                    help="bf16: autocast forward and backward to bfloat16")
    a = ap.parse_args()
    for name in ("threads", "batch", "iters"):
        if getattr(a, name) < 1:
            ap.error(f"--{name} must be at least 1, got {getattr(a, name)}")
    if a.warmup < 0:
        ap.error(f"--warmup must be 0 or more, got {a.warmup}")

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = zfnet_mini()
    x = torch.randn(a.batch, 1, 28, 28)   # (N, 1, 28, 28), random as in our bench
    y = torch.randint(0, 10, (a.batch,))  # (N,) class labels
    if a.channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    sgd = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_of = nn.CrossEntropyLoss()

    def precision():
        if a.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_step():
        sgd.zero_grad(set_to_none=True)
        with precision():
            loss = loss_of(net(x), y)
        loss.backward()
        sgd.step()

    def forward():
        with torch.no_grad(), precision():
            net(x)

    net.train()   # dropout on while training, as in our bench
    train = images_per_s(train_step, a.batch, a.warmup, a.iters)
    net.eval()    # dropout off for the forward figure
    infer = images_per_s(forward, a.batch, a.warmup, a.iters)
    mode = ("channels-last" if a.channels_last else "default") + ("+bf16" if a.precision == "bf16" else "")
    print(f"torch train_images_per_s={train:.0f} infer_images_per_s={infer:.0f} "
          f"mode={mode} threads={a.threads} batch={a.batch}")


if __name__ == "__main__":
    main()
