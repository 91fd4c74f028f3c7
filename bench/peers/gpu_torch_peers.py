#!/usr/bin/env python3
"""gpu_torch_peers.py [--cubatch DIR/gpu-bench.json] [--out DIR/torch-peers.json]: the PyTorch side of the
GPU check (bench/gpu-check.sh runs it after GpuBench, on the same machine and GPU).

Measures, on cuda:0:
  - H2D from pinned host memory by torch: torch.empty(n, dtype=uint8, pin_memory=True).to('cuda',
    non_blocking=True), synchronized, for 1, 16 and 256 MiB (GpuBench's pinned sizes);
  - the usual PyTorch batch path on log-normal int32 batches (median 300, sigma 0.6, cap 2048; batch 8, 64,
    256, 1024; the distribution of io.cubatch.bench.Workload, another random generator): per batch,
    pad_sequence(batch_first=True) and the mask on the host, pin_memory(), .to('cuda', non_blocking=True)
    for data and mask, then torch.cuda.synchronize(): batches per second.
With --cubatch it prints the ratios against GpuBench's figures and the issue's targets: H2D pinned
>= 0.9x torch's, cubatch end to end (compact H2D, then pad on the device) >= 3x the PyTorch path, and the
pad kernel >= 0.8x a device-to-device copy of the same bytes (from GpuBench alone).
Exit status: 0 measured (targets are reported, not enforced here), 3 no torch or no CUDA device."""
import argparse
import json
import math
import random
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubatch", help="GpuBench's gpu-bench.json, for the ratios")
    ap.add_argument("--out", help="write the measurements here as JSON")
    ap.add_argument("--reps", type=int, default=50)
    args = ap.parse_args()
    try:
        import torch
        from torch.nn.utils.rnn import pad_sequence
    except ImportError as e:
        print(f"gpu torch peers: PyTorch is not importable here ({e}): the torch rows (H2D pinned by torch, the "
              "pad_sequence + pin_memory + .to(cuda) path) were not measured; install torch (lent GPU machines "
              "have PyTorch 2.11) and rerun bench/gpu-check.sh", file=sys.stderr)
        return 3
    if not torch.cuda.is_available():
        print("gpu torch peers: torch sees no CUDA device: nothing measured", file=sys.stderr)
        return 3
    dev = torch.device("cuda:0")
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "h2d": [], "path": []}

    for mib in (1, 16, 256):
        n = mib << 20
        host = torch.empty(n, dtype=torch.uint8, pin_memory=True)
        dst = torch.empty(n, dtype=torch.uint8, device=dev)
        for _ in range(3):
            dst.copy_(host, non_blocking=True)
        torch.cuda.synchronize()
        reps = max(5, min(args.reps, (1 << 30) // n))
        t0 = time.perf_counter()
        for _ in range(reps):
            dst.copy_(host, non_blocking=True)
        torch.cuda.synchronize()
        res["h2d"].append({"bytes": n, "torch_pinned_gbps": n * reps / (time.perf_counter() - t0) / 1e9})

    rng = random.Random(20261202)
    for b in (8, 64, 256, 1024):
        batches = []
        for _ in range(16):
            lens = [max(1, min(2048, round(math.exp(math.log(300) + 0.6 * rng.gauss(0, 1))))) for _ in range(b)]
            batches.append([torch.randint(0, 50000, (n,), dtype=torch.int32) for n in lens])

        def one(seqs):
            data = pad_sequence(seqs, batch_first=True, padding_value=0)
            lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int32)
            mask = (torch.arange(data.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)).to(torch.uint8)
            d = data.pin_memory().to(dev, non_blocking=True)
            m = mask.pin_memory().to(dev, non_blocking=True)
            l = lengths.pin_memory().to(dev, non_blocking=True)
            return d, m, l

        for s in batches:
            one(s)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for r in range(args.reps):
            one(batches[r % len(batches)])
        torch.cuda.synchronize()
        res["path"].append({"batch": b, "torch_path_batches_per_s": args.reps / (time.perf_counter() - t0)})

    print(f"torch {res['torch']} on {res['device']}")
    print(f"{'H2D size':<10} {'torch pinned':>14}")
    for h in res["h2d"]:
        print(f"{str(h['bytes'] >> 20) + ' MiB':<10} {h['torch_pinned_gbps']:9.1f} GB/s")
    print(f"\n{'batch':<6} {'torch path batches/s':>22}")
    for p in res["path"]:
        print(f"{p['batch']:<6} {p['torch_path_batches_per_s']:22.0f}")

    if args.cubatch:
        cb = json.load(open(args.cubatch))
        print("\nratios (targets: pad kernel >= 0.8x d2d copy; H2D pinned >= 0.9x torch; end to end >= 3x torch path)")
        res["ratios"] = []
        for p in cb.get("pad", []):
            tp = next((x for x in res["path"] if x["batch"] == p["batch"]), None)
            e2e = p["compact_pad_wall_gbps"] * 1e9 / p["output_bytes"]
            row = {"batch": p["batch"], "pad_vs_d2d": p["resident_pad_gbps"] / p["d2d_copy_gbps"],
                   "cubatch_e2e_batches_per_s": e2e,
                   "e2e_vs_torch_path": e2e / tp["torch_path_batches_per_s"] if tp else None}
            res["ratios"].append(row)
            print(f"batch {p['batch']:<5} pad kernel {row['pad_vs_d2d']:.2f}x d2d copy"
                  + (f", end to end {row['e2e_vs_torch_path']:.2f}x the torch path" if tp else ""))
        for h in cb.get("h2d", []):
            th = next((x for x in res["h2d"] if x["bytes"] == h["bytes"]), None)
            if th:
                r = h["pinned_gbps"] / th["torch_pinned_gbps"]
                res["ratios"].append({"bytes": h["bytes"], "h2d_pinned_vs_torch": r})
                print(f"H2D {h['bytes'] >> 20} MiB: cubatch pinned {r:.2f}x torch pinned")
    if args.out:
        json.dump(res, open(args.out, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
