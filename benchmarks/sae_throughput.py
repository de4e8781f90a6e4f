"""SAE training throughput against a plain fp32 matmul of the same shapes, measured in the same run.

One relu-l1 training step does six matmuls of ``batch x d_in x d_sae`` (encode, decode, and their
gradients), i.e. ``12 * batch * d_in * d_sae`` FLOPs, plus the ReLU, the L1 term, Adam and the decoder
renormalisation. The reference is ``torch.mm`` of a ``(batch, d_in)`` by a ``(d_in, d_sae)`` matrix, the
best this machine's BLAS does on that shape. Rounds alternate SAE steps and matmuls, and the medians are
compared, so background load hits both alike.

Usage: ``python -m benchmarks.sae_throughput [--device cuda] [--rounds 7]``; writes
``benchmarks/results/sae_throughput.md``.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks._machine import cpu_cores, cpu_model
from bertopic_sae import SAEConfig, SparseAutoencoder
from bertopic_sae.sae.train import pick_device

SHAPES = [(1000, 384, 1536), (4096, 384, 3072), (4096, 768, 3072)]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_matmul(batch: int, d_in: int, d_sae: int, device, repeats: int) -> float:
    a = torch.randn(batch, d_in, device=device)
    b = torch.randn(d_in, d_sae, device=device)
    torch.mm(a, b)
    _sync(device)
    started = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    _sync(device)
    return (time.perf_counter() - started) / repeats


def time_sae_steps(batch: int, d_in: int, d_sae: int, device, steps: int, bf16: bool) -> float:
    sae = SparseAutoencoder(SAEConfig(d_in=d_in, d_sae=d_sae), seed=0).to(device)
    optimizer = torch.optim.Adam(sae.parameters(), lr=1e-3)
    x = torch.randn(batch, d_in, device=device)
    x = x / x.norm(dim=1, keepdim=True)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            out = sae(x)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        sae.remove_parallel_decoder_grad()
        optimizer.step()
        sae.normalize_decoder()

    step()
    _sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - started) / steps


def machine() -> str:
    return f"{cpu_model()}, {cpu_cores()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", default="benchmarks/results/sae_throughput.md")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    bf16 = device.type == "cuda"
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        name = torch.cuda.get_device_name(device)
    else:
        name = machine()
    rows = []
    for batch, d_in, d_sae in SHAPES:
        flops_mm = 2 * batch * d_in * d_sae
        steps = 5 if device.type == "cpu" else 50
        mm_times, sae_times = [], []
        for _ in range(args.rounds):
            mm_times.append(time_matmul(batch, d_in, d_sae, device, repeats=6 * steps))
            sae_times.append(time_sae_steps(batch, d_in, d_sae, device, steps, bf16))
        mm, step = statistics.median(mm_times), statistics.median(sae_times)
        peak = flops_mm / mm
        achieved = 6 * flops_mm / step
        rows.append((batch, d_in, d_sae, batch / step, achieved / 1e9, peak / 1e9, achieved / peak))
        print(
            f"batch {batch} d_in {d_in} d_sae {d_sae}: {batch / step:,.0f} embeddings/s, "
            f"{achieved / 1e9:.1f} GFLOP/s = {100 * achieved / peak:.0f}% of fp32 matmul ({peak / 1e9:.1f} "
            "GFLOP/s)"
        )
    lines = [
        "# SAE training throughput vs a plain fp32 matmul",
        "",
        f"* Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. Device: {device.type} "
        f"({name}).",
        f"* Precision: {'bf16 autocast + TF32' if bf16 else 'fp32'}. Medians of {args.rounds} alternating "
        "rounds.",
        "* A relu-l1 step counts 6 matmuls (12·batch·d_in·d_sae FLOPs); the reference is one `torch.mm` of "
        "the same",
        "  shape in fp32, timed in the same rounds.",
        "",
        "| batch | d_in | d_sae | embeddings/s | achieved GFLOP/s | fp32 matmul GFLOP/s | % of matmul |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {b} | {d} | {k} | {eps:,.0f} | {ach:.1f} | {peak:.1f} | {100 * ratio:.0f}% |"
        for b, d, k, eps, ach, peak, ratio in rows
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = out.read_text() if out.exists() else ""
    marker = f"<!-- {device.type} -->"
    kept = previous.split(marker)[0] if device.type == "cpu" else previous
    text = "\n".join(lines) + "\n"
    out.write_text((kept.rstrip() + "\n\n" + marker + "\n" + text) if device.type == "cuda" else text)
    print(f"wrote {out}")
    np.random.seed(0)


if __name__ == "__main__":
    main()
