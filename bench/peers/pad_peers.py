#!/usr/bin/env python3
"""Peer baselines for cubatch's padding benchmarks (not part of CI; run by hand).

Pads the same kind of batches as io.cubatch.bench.Workload (log-normal lengths, median 300, sigma 0.6,
cap 2048; uniform 1..600; bimodal) with:
  - numpy: preallocate [B, L] and slice-copy each sequence, plus a uint8 mask (the fastest plain NumPy);
  - torch: torch.nn.utils.rnn.pad_sequence(batch_first=True) plus a mask, when torch is importable
    (Debian: apt-get install python3-torch, then run with /usr/bin/python3).
Prints JSON rows {workload, backend, batch_size, gbps} with GB/s of output bytes (data + lengths + mask),
the same definition as `cubatch bench`. The corpora are not bit-identical to the Java ones (another
random generator) but follow the same distributions.

  python3 bench/peers/pad_peers.py [--seconds 1.0] > bench/results/DIR/peers.json
  ./cubatch bench --summarize bench/results/DIR     # adds the peer rows to DIR's summary, with their
                                                    # ratio to the ceiling measured in that run
"""
import argparse
import json
import math
import random
import time

import numpy as np


def lengths(dist, n, rng):
    out = []
    for _ in range(n):
        if dist == "uniform":
            out.append(1 + rng.randrange(600))
        elif dist == "lognormal":
            out.append(max(1, min(2048, round(math.exp(math.log(300) + 0.6 * rng.gauss(0, 1))))))
        else:
            out.append(896 + rng.randrange(256) if rng.randrange(5) == 0 else 32 + rng.randrange(64))
    return out


def measure(fn, seconds):
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    args = ap.parse_args()
    try:
        import torch
        from torch.nn.utils.rnn import pad_sequence
    except ImportError:
        torch = None
    rows = []
    for dist in ["uniform", "lognormal", "bimodal"]:
        for b in [8, 64, 256, 1024]:
            rng = random.Random(f"{dist}/{b}")
            batches = []
            for _ in range(16):
                seqs = [np.array([rng.randrange(50000) for _ in range(n)], dtype=np.int32) for n in lengths(dist, b, rng)]
                batches.append(seqs)
            out_bytes = sum(max(map(len, s)) * b * 5 + 4 * b for s in batches) / len(batches)
            state = {"k": 0}

            def numpy_pad():
                seqs = batches[state["k"] % 16]
                state["k"] += 1
                longest = max(len(s) for s in seqs)
                data = np.zeros((len(seqs), longest), dtype=np.int32)
                mask = np.zeros((len(seqs), longest), dtype=np.uint8)
                lens = np.empty(len(seqs), dtype=np.int32)
                for i, s in enumerate(seqs):
                    data[i, :len(s)] = s
                    mask[i, :len(s)] = 1
                    lens[i] = len(s)
                return data, mask, lens

            rows.append({"workload": f"pad/{dist}/int32", "backend": "numpy-slice-copy", "batch_size": b,
                         "gbps": measure(numpy_pad, args.seconds) * out_bytes / 1e9})
            if torch is not None:
                tbatches = [[torch.from_numpy(s) for s in seqs] for seqs in batches]

                def torch_pad():
                    seqs = tbatches[state["k"] % 16]
                    state["k"] += 1
                    data = pad_sequence(seqs, batch_first=True, padding_value=0)
                    lens = torch.tensor([len(s) for s in seqs], dtype=torch.int32)
                    mask = (torch.arange(data.shape[1])[None, :] < lens[:, None]).to(torch.uint8)
                    return data, mask, lens

                rows.append({"workload": f"pad/{dist}/int32", "backend": "torch-pad_sequence", "batch_size": b,
                             "gbps": measure(torch_pad, args.seconds) * out_bytes / 1e9})
    result = {"torch": None if torch is None else torch.__version__, "numpy": np.__version__, "rows": rows}
    print(json.dumps(result))



if __name__ == "__main__":
    main()
