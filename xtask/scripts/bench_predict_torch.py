"""PyTorch side of `cargo xtask bench predict`.

Builds the Peephole predictor (embeddings + LSTM + MLP per member, ensemble mean and
population std) in PyTorch from the weights the bench wrote as JSON (peephole-predictor's
`PredictorWeights`: LSTM gates in PyTorch order i, f, g, o, BatchNorm already folded), runs
the bench's sequences through it and writes timings and predictions as JSON. A format-v2
model (`lstm_w_features` present) reads each layer's layer-features-v1 row beside the code
embeddings: its LSTM input is the embeddings followed by the row.

Like the tract and onnxruntime runs, a batch is grouped by sequence length (the model takes
unpadded sequences); the input tensors are built before the clock starts.
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn


def tensor(matrix):
    return torch.tensor(matrix["data"], dtype=torch.float32).reshape(matrix["rows"], matrix["cols"])


class Member(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.type_embedding = nn.Embedding.from_pretrained(tensor(w["type_embedding"]))
        self.kernel_embedding = nn.Embedding.from_pretrained(tensor(w["kernel_embedding"]))
        self.channel_embedding = nn.Embedding.from_pretrained(tensor(w["channel_embedding"]))
        self.epoch_embedding = nn.Embedding.from_pretrained(tensor(w["epoch_embedding"]))
        w_ih, w_hh = tensor(w["lstm_w_ih"]), tensor(w["lstm_w_hh"])
        self.reads_features = w.get("lstm_w_features") is not None
        if self.reads_features:
            w_ih = torch.cat([w_ih, tensor(w["lstm_w_features"])], dim=1)
        self.lstm = nn.LSTM(w_ih.shape[1], w_hh.shape[1], batch_first=True)
        with torch.no_grad():
            self.lstm.weight_ih_l0.copy_(w_ih)
            self.lstm.weight_hh_l0.copy_(w_hh)
            self.lstm.bias_ih_l0.copy_(torch.tensor(w["lstm_b_ih"]))
            self.lstm.bias_hh_l0.copy_(torch.tensor(w["lstm_b_hh"]))
        layers = []
        for i, layer in enumerate(w["mlp"]):
            weight = tensor(layer["weight"])
            linear = nn.Linear(weight.shape[1], weight.shape[0])
            with torch.no_grad():
                linear.weight.copy_(weight)
                linear.bias.copy_(torch.tensor(layer["bias"]))
            layers.append(linear)
            if i < len(w["mlp"]) - 1:
                layers.append(nn.ReLU())
        self.mlp = nn.Sequential(*layers)

    def forward(self, codes, features, epoch):
        parts = [
            self.type_embedding(codes[..., 0]),
            self.kernel_embedding(codes[..., 1]),
            self.kernel_embedding(codes[..., 2]),
            self.channel_embedding(codes[..., 3]),
        ]
        if self.reads_features:
            parts.append(features)
        x = torch.cat(parts, dim=-1)
        _, (h, _) = self.lstm(x)
        return self.mlp(torch.cat([h[-1], self.epoch_embedding(epoch)], dim=1)).squeeze(1)


class Ensemble(nn.Module):
    def __init__(self, weights):
        super().__init__()
        self.members = nn.ModuleList(Member(m) for m in weights["members"])
        self.target_mean = weights["target_mean"]
        self.target_std = weights["target_std"]

    def forward(self, codes, features, epoch):
        outputs = torch.stack([m(codes, features, epoch) * self.target_std + self.target_mean for m in self.members], dim=1)
        return outputs.mean(dim=1), outputs.std(dim=1, unbiased=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", required=True)
    parser.add_argument("--sequences", required=True)
    parser.add_argument("--repeats", type=int, required=True)
    parser.add_argument("--latency-calls", type=int, required=True)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with open(args.weights) as f:
        model = Ensemble(json.load(f)).eval()
    with open(args.sequences) as f:
        job = json.load(f)
    sequences, epochs = job["sequences"], job["epochs"]
    # Layer-feature rows per sequence (format v2); empty rows for a model that reads none.
    features = job.get("features") or [[[] for _ in sequence] for sequence in sequences]

    def rows(indices):
        return torch.tensor([features[i] for i in indices], dtype=torch.float32)

    groups = {}
    for index, sequence in enumerate(sequences):
        groups.setdefault(len(sequence), []).append(index)
    batches = [
        (
            indices,
            torch.tensor([sequences[i] for i in indices], dtype=torch.int64),
            rows(indices),
            torch.tensor([epochs[i] for i in indices], dtype=torch.int64),
        )
        for indices in groups.values()
    ]
    singles = [
        (
            torch.tensor([sequences[i]], dtype=torch.int64),
            rows([i]),
            torch.tensor([epochs[i]], dtype=torch.int64),
        )
        for i in (k % len(sequences) for k in range(args.latency_calls))
    ]

    mean = [0.0] * len(sequences)
    spread = [0.0] * len(sequences)

    def run_batch():
        for indices, codes, rows_, epoch in batches:
            m, s = model(codes, rows_, epoch)
            for k, i in enumerate(indices):
                mean[i], spread[i] = float(m[k]), float(s[k])

    batch_seconds, latency_seconds = [], []
    with torch.inference_mode():
        run_batch()
        for codes, rows_, epoch in singles:
            model(codes, rows_, epoch)
        for _ in range(args.repeats):
            start = time.perf_counter()
            run_batch()
            batch_seconds.append(time.perf_counter() - start)
            for codes, rows_, epoch in singles:
                start = time.perf_counter()
                m, s = model(codes, rows_, epoch)
                float(m[0]), float(s[0])
                latency_seconds.append(time.perf_counter() - start)

    with open(args.out, "w") as f:
        json.dump(
            {
                "version": torch.__version__,
                "threads": torch.get_num_threads(),
                "batch_seconds": batch_seconds,
                "latency_seconds": latency_seconds,
                "median_batch_seconds": statistics.median(batch_seconds),
                "mean": mean,
                "spread": spread,
            },
            f,
        )


if __name__ == "__main__":
    main()
