"""Scale benchmark with words: real documents → WordLlama embedding shards → a saved K = 50 topic model.

Corpus: ``benchmarks/scale_corpus.py`` (IMDB reviews split into sentences + health-news and Trump tweets,
1,228,025 real documents, one per line). For each size N (the first N documents; 0 = all of them):

1. ``bertopic-sae embed CORPUS --limit N --model wordllama`` into shards (skipped when already complete;
   its time is taken from the manifest of the run that wrote it);
2. ``bertopic-sae fit CORPUS --limit N --embeddings SHARDS --sharded --n-topics 50`` in a fresh process
   under ``/usr/bin/time -v``: reading the texts, SAE encode, vocabulary and counts, emission EM, merge,
   assignment, the BERTopic model and its save, with the shipped ``wordllama-256`` SAE. Wall time and peak
   RSS (``Maximum resident set size``) are of that process; the fit logs its step seconds.

Writes ``results/scale.json``, ``results/scale.md`` (table) and ``results/scale.png`` (time and memory
against N). Run it through the CPU lock: ``flock /work/heavy.lock nice -n 10 python benchmarks/scale.py``.

Usage:

```bash
python benchmarks/scale.py --corpus /work/emb/scale-1m/corpus.txt --root /work/emb/scale-1m \
    --sizes 10000 100000 0 --threads 1
```
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
GOAL_SECONDS, GOAL_RSS_MB = 600, 4096
STEPS = ("encode", "vocabulary", "emission", "merge", "assignment", "build_model")


def _run(command: list[str], env: dict) -> tuple[str, float, float]:
    """Run ``command`` under /usr/bin/time -v; (stderr, wall seconds, peak RSS MB)."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], env=env, cwd=ROOT, capture_output=True,
                          text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return done.stderr, wall, int(rss.group(1)) / 1024 if rss else float("nan")


def one_size(corpus: Path, root: Path, n: int, n_topics: int, threads: int) -> dict:
    """Embed (if needed) and fit the first ``n`` documents (0: all); the measurements."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1",
           "OMP_WAIT_POLICY": "PASSIVE", "NUMBA_NUM_THREADS": str(max(threads, 1))}
    python = [sys.executable, "-m", "bertopic_sae"]
    limit = ["--limit", str(n)] if n else []
    shards = root / ("wordllama" if not n else f"wordllama-{n}")
    manifest = shards / "manifest.json"
    if not (manifest.exists() and json.loads(manifest.read_text()).get("complete")):
        _run([*python, "embed", str(corpus), *limit, "--model", "wordllama", "--out", str(shards),
              "--shard-size", "50000", "--batch-size", "256", "-q"], env)
    info = json.loads(manifest.read_text())
    out = root / f"model-{n or 'all'}"
    stderr, wall, rss = _run([*python, "fit", str(corpus), *limit, "--embedding-model", "wordllama",
                              "--embeddings", str(shards), "--sharded", "--n-topics", str(n_topics),
                              "--out", str(out), "--overwrite", "--threads", str(threads)], env)
    steps = json.loads(re.search(r"step seconds: (\{.*\})", stderr).group(1))
    fit_seconds = float(re.search(r"fit in ([\d.]+) s", stderr).group(1))
    peaks = re.search(r"peak memory MB after each step: (\{.*\})", stderr)
    topics = (out / "topics.csv").read_text().splitlines()[1:6]
    return {
        "docs": info["n_rows"], "shards": len(info["shards"]),
        "embed_seconds": info.get("embed_seconds_last_run"),
        "wall_seconds": round(wall, 1), "fit_seconds": fit_seconds, "peak_rss_mb": round(rss),
        "steps": steps, "step_peak_mb": json.loads(peaks.group(1)) if peaks else None,
        "load1": round(os.getloadavg()[0], 2), "topics_sample": topics,
        "model_mb": round(sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20, 1),
    }


def report(rows: list[dict], meta: dict) -> str:
    lines = [
        "# Scale with words: real documents → WordLlama shards → saved 50-topic model", "",
        f"{meta['date']}, {meta['machine']}; commit {meta['commit']}. `benchmarks/scale.py`.",
        "Corpus: IMDB reviews split into sentences + health-news and Trump tweets "
        "(benchmarks/scale_corpus.py), the first N documents; every row is a real document with its own "
        "WordLlama embedding. `bertopic-sae fit --sharded` (one process) with the shipped wordllama-256 SAE, "
        "K = 50, in a fresh process: wall = process start to saved model (texts read, SAE encode, "
        "vocabulary, emission EM, merge, assignment, model built and saved); peak RSS from /usr/bin/time -v. "
        "The machine is shared (load average in the JSON).", "",
        "| docs | shards | embed s | wall s | fit s | encode | vocabulary | emission | merge | assignment | "
        "build model | peak RSS MB | model MB | goal ≤ 600 s, ≤ 4 GB |",
        "|" + "---|" * 14,
    ]
    for r in rows:
        s = r["steps"]
        met = "yes" if r["wall_seconds"] <= GOAL_SECONDS and r["peak_rss_mb"] <= GOAL_RSS_MB else "no"
        lines.append(
            f"| {r['docs']:,} | {r['shards']} | {r['embed_seconds']} | {r['wall_seconds']} | "
            f"{r['fit_seconds']} | "
            + " | ".join(str(s.get(k, "")) for k in STEPS)
            + f" | {r['peak_rss_mb']:,} | {r['model_mb']} | {met if r is rows[-1] else ''} |"
        )
    peaks = [r for r in rows if r.get("step_peak_mb")]
    if peaks:
        lines += ["", "Peak resident memory (MB) by the end of each step of the fit (before the save):",
                  ""]
        lines += [f"* {r['docs']:,} docs: " + ", ".join(f"{k} {v:,.0f}" for k, v in r["step_peak_mb"].items())
                  for r in peaks]
    lines += ["", "Topics of the largest run (first 5 rows of its topics.csv):", "", "```",
              *rows[-1]["topics_sample"], "```", ""]
    return "\n".join(lines + projection(rows[-1]))


def projection(row: dict, target: int = 100_000_000, bandwidth: float = 1e9) -> list[str]:
    """A 100M-document fit on N machines like this one, from the largest run's measured step costs.

    The data-parallel steps (encode, vocabulary, emission EM, assignment) scale with documents per machine;
    the merge (k-means over the atoms) is fixed; each EM update all-reduces the M-step statistics (atoms x
    vocabulary float64) and each machine's vocabulary is gathered once; building the BERTopic model is
    serial on rank 0 and grows with all documents.
    """
    s, docs = row["steps"], row["docs"]
    scale = target / docs
    parallel = sum(s[k] for k in ("encode", "vocabulary", "emission", "assignment")) * scale
    reduce_bytes = s["atoms"] * s["vocabulary_size"] * 8
    lines = ["", f"## Projection: {target / 1e6:.0f}M documents on N machines (from the {docs:,}-doc run)",
             "", "Per machine: the data-parallel steps at "
             f"{parallel / scale / docs * 1e6:.1f} s per 1M documents; merge {s['merge']} s once; "
             f"{s['em_updates']} EM updates, each a ring all-reduce of {reduce_bytes / 1e6:.0f} MB "
             f"({s['atoms']} atoms x {s['vocabulary_size']:,} words, float64) at {bandwidth / 1e9:.0f} GB/s; "
             f"building the model on rank 0: {s['build_model']} s per {docs:,} documents, linear. Same CPU "
             "per machine (2 cores, 1 thread); the EM update count is assumed unchanged at 100M.", "",
             "| machines | data-parallel s | communication s | merge s | fit to topics (min) | "
             "+ model built on rank 0 (min) |", "|---|---|---|---|---|---|"]
    for n in (1, 10, 100, 1000):
        comm = 0.0 if n == 1 else s["em_updates"] * 2 * (n - 1) / n * reduce_bytes / bandwidth
        fit = parallel / n + comm + s["merge"]
        lines.append(f"| {n} | {parallel / n:,.0f} | {comm:.1f} | {s['merge']} | {fit / 60:,.1f} | "
                     f"{(fit + s['build_model'] * scale) / 60:,.1f} |")
    return lines + [""]


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    docs = [r["docs"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.loglog(docs, [r["wall_seconds"] for r in rows], "o-", label="embeddings → saved model")
    left.axhline(GOAL_SECONDS, color="grey", ls="--", label="goal 600 s")
    left.set(xlabel="documents", ylabel="seconds", title="time")
    left.legend()
    right.loglog(docs, [r["peak_rss_mb"] for r in rows], "o-", color="C1", label="peak RSS")
    right.axhline(GOAL_RSS_MB, color="grey", ls="--", label="goal 4 GB")
    right.set(xlabel="documents", ylabel="MB", title="memory")
    right.legend()
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("/work/emb/scale-1m/corpus.txt"))
    parser.add_argument("--root", type=Path, default=Path("/work/emb/scale-1m"), help="shards and models")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 0], help="0 = all")
    parser.add_argument("--n-topics", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "scale")
    args = parser.parse_args()

    from _machine import cpu_cores, cpu_model

    if not args.corpus.exists():
        subprocess.run([sys.executable, str(Path(__file__).parent / "scale_corpus.py"), "--out",
                        str(args.corpus)], check=True)
    from bertopic_sae._io import atomic_write_text

    rows = []
    for n in args.sizes:  # results are rewritten after every size, so a stopped run keeps what it measured
        rows.append(one_size(args.corpus, args.root, n, args.n_topics, args.threads))
        print(json.dumps(rows[-1]), flush=True)
        rows.sort(key=lambda r: r["docs"])
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        meta = {"date": dt.datetime.now().isoformat(timespec="seconds"), "commit": commit,
                "machine": f"{cpu_model()}, {cpu_cores()} cores (shared), {args.threads} thread(s)"}
        atomic_write_text(args.out.with_suffix(".json"), json.dumps({"meta": meta, "rows": rows}, indent=2))
        atomic_write_text(args.out.with_suffix(".md"), report(rows, meta))
        plot(rows, args.out.with_suffix(".png"))
    print(report(rows, meta))


if __name__ == "__main__":
    main()
