"""PyTorch side of `cargo xtask bench train`.

Rebuilds the network `peephole-train bench-train` described in DIR/spec.json (layers with
padding already resolved to [left, right, top, bottom], so both sides pad identically: zeros
for convs and average pools, -inf for max pools), loads the very same batches
(DIR/images.f32, DIR/labels.i64), and times the same SGD steps: forward, cross-entropy,
backward, update, and reading the loss. Prints one JSON line.
"""

import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Padded(nn.Module):
    """A windowed layer behind explicit padding, as peephole-train's module compiles it."""

    def __init__(self, inner, pads, value):
        super().__init__()
        self.inner = inner
        self.pads = tuple(pads)  # left, right, top, bottom: F.pad's order for the last two dims
        self.value = value

    def forward(self, x):
        if any(self.pads):
            x = F.pad(x, self.pads, value=self.value)
        return self.inner(x)


def build(spec):
    layers = []
    for layer in spec["layers"]:
        kind = layer["kind"]
        if kind == "conv":
            conv = nn.Conv2d(layer["in_channels"], layer["out_channels"], tuple(layer["kernel"]), stride=layer["stride"])
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)
            layers.append(Padded(conv, layer["pads"], 0.0))
        elif kind == "max_pool":
            layers.append(Padded(nn.MaxPool2d(tuple(layer["kernel"]), stride=layer["stride"]), layer["pads"], float("-inf")))
        elif kind == "avg_pool":
            layers.append(Padded(nn.AvgPool2d(tuple(layer["kernel"]), stride=layer["stride"]), layer["pads"], 0.0))
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "sigmoid":
            layers.append(nn.Sigmoid())
        elif kind == "tanh":
            layers.append(nn.Tanh())
        elif kind == "batch_norm":
            layers.append(nn.BatchNorm2d(layer["channels"], eps=1e-5, momentum=0.1))
        else:
            raise SystemExit(f"spec.json: unknown layer kind {kind!r}")
    body = nn.Sequential(*layers)
    head = nn.Linear(spec["features"], spec["classes"])

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = body
            self.head = head

        def forward(self, x):
            return self.head(self.body(x).mean(dim=(2, 3)))

    return Net()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir")
    args = parser.parse_args()
    with open(os.path.join(args.dir, "spec.json")) as f:
        spec = json.load(f)
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(1)
    count = spec["batch"] * spec["batches"]
    c, h, w = spec["input"]
    images = torch.from_numpy(np.fromfile(os.path.join(args.dir, "images.f32"), dtype="<f4").reshape(count, c, h, w).copy())
    labels = torch.from_numpy(np.fromfile(os.path.join(args.dir, "labels.i64"), dtype="<i8").copy())
    batches = [
        (images[b * spec["batch"] : (b + 1) * spec["batch"]], labels[b * spec["batch"] : (b + 1) * spec["batch"]])
        for b in range(spec["batches"])
    ]
    model = build(spec)
    model.train()
    optimizer = torch.optim.SGD(
        model.parameters(), lr=spec["learning_rate"], momentum=spec["momentum"], weight_decay=spec["weight_decay"]
    )

    def step(i):
        x, y = batches[i % len(batches)]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    for i in range(spec["warmup"]):
        step(i)
    rates = []
    for _ in range(spec["repeats"]):
        started = time.perf_counter()
        for i in range(spec["steps"]):
            last = step(i)
        seconds = time.perf_counter() - started
        if last != last:
            raise SystemExit("the loss diverged during the benchmark")
        rates.append(spec["steps"] * spec["batch"] / seconds)
    print(json.dumps({"backend": f"pytorch {torch.__version__}", "threads": spec["threads"], "images_per_second": rates}))


if __name__ == "__main__":
    main()
