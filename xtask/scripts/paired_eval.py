"""Paired comparison of two `cargo xtask eval` runs on the same networks.

Reads two eval.json files (an incumbent and a candidate model scored the same day on the same
zoo files), joins their per-network predictions by id, and prints per slice each model's
Kendall tau (Spearman on the reference set) and the candidate's minus the incumbent's with a
95% bootstrap interval on paired resamples (2000, seed 0), as README's test tables show.

    python3 xtask/scripts/paired_eval.py INCUMBENT/eval.json CANDIDATE/eval.json
"""

import json
import sys

import numpy as np
from scipy.stats import kendalltau, spearmanr

SLICES = {
    "generator v1": lambda n: n["side"] == "test" and n["generator"].startswith("generator-v1"),
    "generator v2": lambda n: n["side"] == "test" and n["generator"].startswith("generator-v2"),
    "reference set": lambda n: n["side"] == "evaluation" and n["generator"] == "reference-v1",
    "trainable": lambda n: n["side"] == "test"
    and n["generator"].startswith("generator-v")
    and n["actual"] >= 0.5,
}


def networks(path):
    with open(path) as f:
        report = json.load(f)
    return {n["id"]: n for n in report["networks"] if "peephole" in n["predictions"]}


def main(incumbent_path, candidate_path, resamples=2000, seed=0):
    incumbent, candidate = networks(incumbent_path), networks(candidate_path)
    common = sorted(set(incumbent) & set(candidate))
    print(f"{len(common)} networks scored by both ({len(incumbent)} and {len(candidate)} in all)")
    print("| slice | n | metric | incumbent | candidate | candidate - incumbent [95%] |")
    print("|---|---:|---|---:|---:|---:|")
    for name, member in SLICES.items():
        ids = [i for i in common if member(candidate[i])]
        if len(ids) < 3:
            continue
        actual = np.array([candidate[i]["actual"] for i in ids])
        a = np.array([incumbent[i]["predictions"]["peephole"] for i in ids])
        b = np.array([candidate[i]["predictions"]["peephole"] for i in ids])
        metric, stat = ("Spearman", spearmanr) if name == "reference set" else ("tau", kendalltau)

        def score(pred, idx):
            value = stat(pred[idx], actual[idx])[0]
            return value if np.isfinite(value) else None

        rng = np.random.default_rng(seed)
        diffs = []
        everything = np.arange(len(ids))
        for _ in range(resamples):
            idx = rng.integers(0, len(ids), len(ids))
            sa, sb = score(a, idx), score(b, idx)
            if sa is not None and sb is not None:
                diffs.append(sb - sa)
        low, high = np.percentile(diffs, [2.5, 97.5])
        sa, sb = score(a, everything), score(b, everything)
        verdict = "tie" if low <= 0 <= high else ("candidate better" if low > 0 else "incumbent better")
        print(f"| {name} | {len(ids)} | {metric} | {sa:.3f} | {sb:.3f} | {sb - sa:+.3f} [{low:+.3f}, {high:+.3f}] ({verdict}) |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
