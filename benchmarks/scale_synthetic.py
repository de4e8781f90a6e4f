"""Scale benchmark: N document embeddings on disk (memmap) → SAE codes → topics, N = 10k, 100k, 1M.

Each size runs in a fresh process, so its peak RSS (``VmHWM``) is its own. Stages timed:

1. ``open``: memory-map the float16 embeddings (no read);
2. ``encode``: stream the memmap through the SAE in 4,096-row batches into a CSR matrix of codes;
3. ``merge``: ``SAEAtomMerger(n_topics=K, sae=sae).fit(codes)``: decoder-direction merge of the atoms
   into K topics and the assignment of every document (topic + distribution).

No words: the padded documents (below) have no text, so the c-TF-IDF / emission part of a BERTopic fit
is not measured here; it scales with the vocabulary and the number of non-zeros of the bag of words.

Data: the real all-MiniLM-L6-v2 embeddings written by ``bertopic-sae embed`` (``--real`` folders: tweets,
Reuters, IMDB subsets), then padded to N rows with perturbed copies of real rows
(``normalize(x + 0.25 g / sqrt(d))``, g ~ N(0, I): cosine ≈ 0.97 to their source). The padded rows are
not new documents: they inherit the topical structure of the real ones, which is what the SAE sees.

Usage:

```bash
python benchmarks/scale_synthetic.py --real /work/emb/* --sae bertopic_sae/sae/pretrained/minilm-l6-v2 \
    --data /work/emb/scale_1m.npy --sizes 10000 100000 1000000 --threads 1
```
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def peak_rss_mb() -> float:
    """Peak RSS of this process since its exec (VmHWM). Not ru_maxrss: Linux carries that over from the
    parent across fork + exec, so a child would report its parent's peak."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # not Linux


def build_data(real: list[str], path: Path, n: int, seed: int = 0) -> dict:
    """Write ``n`` float16 rows to the .npy ``path``: all real rows, then perturbed copies (in blocks)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bertopic_sae.data import ShardedEmbeddings

    source = ShardedEmbeddings(*real)
    n_real = min(source.shape[0], n)
    dim = source.shape[1]
    if path.exists():
        existing = np.load(path, mmap_mode="r")
        if existing.shape[0] >= n and existing.shape[1] == dim:  # a bigger file serves its first n rows
            return {"n": int(existing.shape[0]), "n_real": min(source.shape[0], int(existing.shape[0])),
                    "reused": True}
    tmp = path.with_suffix(".tmp.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(n, dim))
    block = 65_536
    for start in range(0, n_real, block):
        out[start : min(start + block, n_real)] = source[start : min(start + block, n_real)]
    rng = np.random.default_rng(seed)
    real_rows = np.asarray(source[0:n_real], dtype=np.float32)
    for start in range(n_real, n, block):
        stop = min(start + block, n)
        picks = real_rows[rng.integers(0, n_real, stop - start)]
        noisy = picks + 0.25 * rng.standard_normal(picks.shape, dtype=np.float32) / np.sqrt(dim)
        out[start:stop] = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float16)
    out.flush()
    del out
    os.replace(tmp, path)
    return {"n": n, "n_real": n_real, "reused": False}


def run_one(data: Path, n: int, sae_path: str, n_topics: int, threads: int, merger_params: dict) -> dict:
    """One size, in this process: returns stage timings and peak RSS."""
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bertopic_sae import SAEAtomMerger, SparseAutoencoder

    timings = {}
    started = time.perf_counter()
    X = np.load(data, mmap_mode="r")[:n]
    timings["open_s"] = time.perf_counter() - started
    sae = SparseAutoencoder.from_pretrained(sae_path)

    started = time.perf_counter()
    codes = sae.encode_csr(X, batch_size=4096)
    timings["encode_s"] = time.perf_counter() - started

    started = time.perf_counter()
    merger = SAEAtomMerger(n_topics=n_topics, sae=sae, merge="decoder", **merger_params).fit(codes)
    timings["merge_s"] = time.perf_counter() - started
    sizes = np.bincount(merger.labels_, minlength=n_topics)
    return {
        "n_docs": n,
        **{k: round(v, 2) for k, v in timings.items()},
        "total_s": round(sum(timings.values()), 2),
        "peak_rss_mb": peak_rss_mb(),
        "codes_nnz": int(codes.nnz),
        "mean_l0": round(codes.nnz / n, 2),
        "silent_docs": int((np.diff(codes.indptr) == 0).sum()),
        "largest_topic_share": round(float(sizes.max() / n), 4),
        "empty_topics": int((sizes == 0).sum()),
        "d_sae": sae.d_sae,
        "n_topics": n_topics,
        "threads": threads,
        "merger_params": json.dumps(merger_params),
    }


def run_train(data: Path, n: int, sae_path: str, steps: int, threads: int) -> dict:
    """Stream-train an SAE of the shipped SAE's shape on the first ``n`` rows of the memmap (own process)."""
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bertopic_sae import SAEConfig, SparseAutoencoder, TrainConfig, train_sae

    shape = SparseAutoencoder.from_pretrained(sae_path).cfg
    X = np.load(data, mmap_mode="r")[:n]
    started = time.perf_counter()
    result = train_sae(X, SAEConfig(d_in=shape.d_in, d_sae=shape.d_sae, l1_coefficient=shape.l1_coefficient),
                       TrainConfig(steps=steps, batch_size=1000, verbose=False))
    return {
        "n_docs": n,
        "train_steps": steps,
        "train_s": round(time.perf_counter() - started, 2),
        "train_peak_rss_mb": peak_rss_mb(),
        "train_l0": round(result.l0, 2),
    }


def report_lines(rows: list[dict], meta: dict, train_steps: int) -> list[str]:
    """The markdown report: provenance, then one table row per size."""
    data = meta["data"]
    lines = [
        f"# Scale: embeddings on disk → SAE codes → {rows[0]['n_topics']} topics",
        "",
        f"{meta['date']}, {meta['machine']}, torch threads {rows[0]['threads']}; SAE "
        f"{Path(meta['sae']).name} "
        f"(d_sae {rows[0]['d_sae']}); SAEAtomMerger(merge='decoder', {meta['merger_params'] or 'defaults'}).",
        f"Data: float16 .npy memmap of {data['n']:,} rows: {data['n_real']:,} real all-MiniLM-L6-v2 "
        "embeddings "
        "(tweets, Reuters, IMDB subsets), the rest perturbed copies of them (cosine ≈ 0.97 to their source), "
        "so beyond the real rows they add volume, not new topics. No words: the c-TF-IDF / emission part of "
        "a "
        "BERTopic fit is not included. Each size runs in a fresh process; peak RSS = VmHWM. The machine is "
        "shared (load average at the start of each size in the JSON).",
        "",
        "| docs | real docs | encode s | merge s | encode + merge s | peak RSS MB | mean L0 | largest topic |"
        " train s | train peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n_docs']:,} | {r['n_real']:,} | {r['encode_s']} | {r['merge_s']} | {r['total_s']} | "
            f"{r['peak_rss_mb']:,.0f} | {r['mean_l0']} | {r['largest_topic_share']:.1%} | "
            f"{r.get('train_s', '')} | {r.get('train_peak_rss_mb', '')} |"
        )
    if train_steps:
        lines.append(
            f"\ntrain = {train_steps} steps of batch 1000 streamed from the memmap (an SAE of that shape)."
        )
    return lines


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["n_docs"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (
        ("encode_s", "SAE encode (memmap → CSR)"),
        ("merge_s", "merge + assign"),
        ("total_s", "total"),
    ):
        left.loglog(n, [r[key] for r in rows], "o-", label=label)
    left.axhline(600, color="grey", ls="--", lw=1, label="10 min goal")
    left.set_xlabel("documents")
    left.set_ylabel("seconds")
    left.legend()
    left.set_title("Time")
    right.semilogx(n, [r["peak_rss_mb"] / 1024 for r in rows], "o-", label="encode + merge")
    if "train_peak_rss_mb" in rows[0]:
        left.loglog(
            n, [r["train_s"] for r in rows], "s--", label=f"SAE training ({rows[0]['train_steps']} steps)"
        )
        left.legend()
        right.semilogx(n, [r["train_peak_rss_mb"] / 1024 for r in rows], "s--", label="SAE training")
    right.axhline(4, color="grey", ls="--", lw=1, label="4 GB goal")
    right.set_xlabel("documents")
    right.set_ylabel("peak RSS (GB)")
    right.legend()
    right.set_title("Memory")
    fig.suptitle(
        f"embeddings → SAE codes → {rows[0]['n_topics']} topics, {rows[0]['threads']} CPU thread(s), "
        f"merger {rows[0]['merger_params']}"
    )
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", nargs="+", help="embedding folders from `bertopic-sae embed` (real rows)")
    parser.add_argument(
        "--data", type=Path, required=True, help=".npy file of the padded embeddings (built once)"
    )
    parser.add_argument("--sae", default=None, help="SAE folder (default: the shipped minilm-l6-v2)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--n-topics", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--merger-params",
        type=json.loads,
        default={},
        help='extra SAEAtomMerger arguments as JSON, e.g. \'{"assignment": "sum"}\'',
    )
    parser.add_argument(
        "--train-steps",
        type=int,
        default=0,
        help="also time streaming SAE training (batch 1000) on the memmap for this many steps",
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md and .png from the .json")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # child process
    parser.add_argument("--one-train", type=int, default=None, help=argparse.SUPPRESS)  # child process
    parser.add_argument("--out", type=Path, default=RESULTS / "scale_synthetic")
    args = parser.parse_args()
    sae_path = args.sae or str(
        Path(__file__).resolve().parents[1] / "bertopic_sae" / "sae" / "pretrained" / "minilm-l6-v2"
    )
    if args.one is not None:
        print(
            json.dumps(
                run_one(args.data, args.one, sae_path, args.n_topics, args.threads, args.merger_params)
            )
        )
        return
    if args.one_train is not None:
        print(json.dumps(run_train(args.data, args.one_train, sae_path, args.train_steps, args.threads)))
        return

    if args.report_only:
        saved = json.loads(args.out.with_suffix(".json").read_text())
        steps = saved["rows"][0].get("train_steps", 0)
        args.out.with_suffix(".md").write_text(
            "\n".join(report_lines(saved["rows"], saved["meta"], steps)) + "\n"
        )
        plot(saved["rows"], args.out.with_suffix(".png"))
        return

    started = time.perf_counter()
    info = build_data(args.real, args.data, max(args.sizes))
    info["build_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(info), flush=True)
    rows = []
    for n in sorted(args.sizes):
        cmd = [
            sys.executable,
            __file__,
            "--data",
            str(args.data),
            "--sae",
            sae_path,
            "--one",
            str(n),
            "--n-topics",
            str(args.n_topics),
            "--threads",
            str(args.threads),
            "--merger-params",
            json.dumps(args.merger_params),
        ]
        load = os.getloadavg()[0]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode:
            sys.exit(f"size {n} failed:\n{result.stderr[-2000:]}")
        row = json.loads(result.stdout.strip().splitlines()[-1])
        row["n_real"] = min(n, info["n_real"])
        if args.train_steps:
            cmd[cmd.index("--one")] = "--one-train"
            result = subprocess.run(
                cmd + ["--train-steps", str(args.train_steps)], capture_output=True, text=True, check=True
            )
            row.update(json.loads(result.stdout.strip().splitlines()[-1]))
        row["load1_at_start"] = round(load, 2)
        rows.append(row)
        print(json.dumps(row), flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared), "
        f"{platform.python_version()}",
        "sae": sae_path,
        "merger_params": args.merger_params,
        "data": info,
    }
    payload = json.dumps({"meta": meta, "rows": rows}, indent=2)
    tmp = args.out.with_suffix(".tmp.json")
    tmp.write_text(payload)
    os.replace(tmp, args.out.with_suffix(".json"))
    lines = report_lines(rows, meta, args.train_steps)
    tmp = args.out.with_suffix(".tmp.md")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, args.out.with_suffix(".md"))
    plot(rows, args.out.with_suffix(".png"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
