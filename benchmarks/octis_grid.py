"""OCTIS benchmark grid: datasets x K x models x seeds, resumable, one CSV row per finished cell.

Every model sees the same OCTIS Dataset (one vocabulary, one tokenisation) and, if it uses embeddings, the
same cached all-MiniLM-L6-v2 embeddings of the raw text (``bertopic_sae.eval.load_octis_corpus``). Scores
come from ``bertopic_sae.eval.OctisEvaluator`` (OCTIS / gensim / sklearn). Each row records the fit wall
time, the peak process RSS during the fit (psutil, sampled every 50 ms), the 1-minute load average at the
start (the machine is shared: a high load inflates fit_seconds), the machine and the code version (the commit,
``+dirty`` when ``bertopic_sae/`` had uncommitted changes; empty for rows written before this column existed).

Resumable: a cell (model, dataset, num_topics, seed) already in the CSV is skipped, so an interrupted run
is continued by starting the same command again. Failed cells are logged to ``<csv>.errors.log`` and not
written, so they are retried next time.

Budget (2 shared CPU cores, no GPU; fit seconds per cell, alone on the machine, from baselines-20ng.md and
the measured cheap cells; CTM/ProdLDA/FASTopic cost grows ~1.5-2x from K=20 to K=200):

| model | 20NG (18k docs) | DBLP (55k short) | M10 (8k short) | BBC (2k) |
|---|---|---|---|---|
| kmeans, bertopic, lda | 3-100 s, 100 s, ~1-5 min | ~10 s, ~5 min, ~1 min | 10-50 s | 5-25 s |
| fastopic (200 epochs) | ~630 s | ~600 s (est.) | ~150 s (est.) | ~60 s (est.) |
| ctm (50 epochs) | ~650 s | ~700 s (est.) | ~150 s (est.) | ~60 s (est.) |
| prodlda (100 epochs) | ~480 s | ~1000 s (est.: 850 batches/epoch) | ~200 s (est.) | ~60 s (est.) |

So one seed of the heavy peers over 4 datasets x 4 K is ~6-7 h of an idle 2-core machine; run it as one
resumable background job per seed (``nice``), heavy models last, never two grids at once (timings).

Usage:

```bash
python -m benchmarks.octis_grid --quick                       # ~1-2 min smoke run (300 BBC docs, K=5)
python -m benchmarks.octis_grid --datasets bbc_news m10 --models kmeans bertopic lda --ks 20 50 100 200
python -m benchmarks.octis_grid --datasets 20newsgroups --models ctm --ks 50 --set ctm.num_epochs=100
python -m benchmarks.octis_grid --list                         # show the cells that would run, run nothing
python -m benchmarks.octis_report                              # tables + plots from the CSV
```
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

import psutil

from benchmarks._machine import cpu_cores, cpu_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_CSV = RESULTS / "octis_grid.csv"

DATASETS = ("20newsgroups", "bbc_news", "m10", "dblp")
MODELS = ("sae", "kmeans", "bertopic", "fastopic", "ctm", "prodlda", "lda")
KS = (20, 50, 100, 200)

# Hyperparameters of the full grid. Anything not listed is the model's own default (OCTIS, BERTopic,
# FASTopic). CTM runs 50 epochs (OCTIS default 100), as in baselines-20ng.md: 100 epochs cost ~21 min per
# 20NG cell on 2 cores. LDA gets 10 passes: OCTIS's default of 1 pass leaves gensim's online LDA unconverged
# on corpora this small (see benchmarks/results/octis_grid.md).
FULL_CONFIG: dict[str, dict] = {
    "sae": {},
    "kmeans": {},
    "bertopic": {},
    "fastopic": {"epochs": 200, "learning_rate": 0.002},
    "ctm": {"num_epochs": 50},
    "prodlda": {"num_epochs": 100},
    "lda": {"passes": 10},
}
# --quick: a smoke test of every adapter and metric, not a benchmark. The SAE merges atoms by decoder
# direction here: the word merge first embeds every vocabulary word (~1 min for BBC's 2,800 on 2 cores,
# cached on disk afterwards). The full grid ("sae": {}) uses the model's defaults: the SAE shipped for MiniLM
# (sae="auto"; no SAE is trained, so train_config below only matters where no shipped SAE fits) and the
# word-based merge.
QUICK_CONFIG: dict[str, dict] = {
    "sae": {"merger_params": {"merge": "decoder", "train_config": {"steps": 100}}},
    "kmeans": {},
    "bertopic": {},
    "fastopic": {"epochs": 20},
    "ctm": {"num_epochs": 5},
    "prodlda": {"num_epochs": 5},
    "lda": {"passes": 2},
}
QUICK_DATASET, QUICK_DOCS, QUICK_K = "bbc_news", 300, 5

COLUMNS = [
    "model",
    "dataset",
    "num_topics",
    "seed",
    "n_topics_found",
    "n_docs",
    "vocab_size",
    "npmi",
    "c_v",
    "td",
    "irbo",
    "we_coherence",
    "we_coherence_octis",
    "intrusion",
    "purity",
    "nmi",
    "outlier_share",
    "fit_seconds",
    "eval_seconds",
    "peak_rss_mb",
    "rss_delta_mb",
    "load1",
    "config",
    "machine",
    "date",
    "code",
]
# A CSV written before the "code" column existed is upgraded in place (empty code) on the next run.
_LEGACY_COLUMNS = COLUMNS[:-1]


def make_model(name: str, num_topics: int, seed: int, embeddings, config: dict, verbose: bool = False):
    """The OCTIS model of grid name ``name`` (see :data:`MODELS`)."""
    from bertopic_sae import eval as adapters

    classes = {
        "sae": adapters.SAETopicModel,
        "kmeans": adapters.KMeansBERTopicModel,
        "bertopic": adapters.BERTopicModel,
        "fastopic": adapters.FASTopicModel,
        "ctm": adapters.CTMModel,
        "prodlda": adapters.ProdLDAModel,
        "lda": adapters.LDAModel,
    }
    if name not in classes:
        raise ValueError(f"Unknown model {name!r}; choose from {', '.join(MODELS)}.")
    return classes[name](
        num_topics, embeddings=embeddings, seed=seed, use_partitions=False, verbose=verbose, **config
    )


def unavailable(name: str) -> str | None:
    """Why model ``name`` cannot run in this environment (None if it can)."""
    try:
        if name == "sae":
            from bertopic_sae import BERTopic, SAEAtomMerger  # noqa: F401
        elif name == "fastopic":
            import fastopic  # noqa: F401
    except ImportError as error:
        return f"{type(error).__name__}: {error}"
    return None


class PeakRSS:
    """Peak resident memory (MiB) of this process and its children while the ``with`` block runs."""

    def __init__(self, interval: float = 0.05):
        self._process = psutil.Process()
        self._interval = interval
        self.start_mb = self.peak_mb = self._rss()
        self._stop = threading.Event()

    def _rss(self) -> float:
        total = self._process.memory_info().rss
        for child in self._process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):  # child exited between listing and reading
                continue
        return total / 2**20

    def _watch(self):
        while not self._stop.wait(self._interval):
            self.peak_mb = max(self.peak_mb, self._rss())

    def __enter__(self):
        self.start_mb = self.peak_mb = self._rss()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._rss())


def machine() -> str:
    return f"{cpu_cores()} cores {cpu_model()}, no GPU"


def code_version() -> str:
    """The commit of the checkout that runs the grid, ``+dirty`` if ``bertopic_sae/`` has uncommitted changes.

    Read once, before the models are imported: the package may change while a long grid runs, but a
    running grid keeps the code it imported first.
    """
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "bertopic_sae"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def read_done(path: Path) -> set[tuple]:
    if not path.exists() or path.stat().st_size == 0:
        return set()
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames
        rows = list(reader)
    if fields == _LEGACY_COLUMNS:  # add the "code" column (unknown for the old rows)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows({**r, "code": ""} for r in rows)
        os.replace(tmp, path)
    elif fields != COLUMNS:
        raise SystemExit(f"{path} has other columns than this version writes; move it aside or pass --out.")
    return {(r["model"], r["dataset"], int(r["num_topics"]), int(r["seed"])) for r in rows}


def append_row(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def parse_overrides(items: list[str]) -> dict[str, dict]:
    """``["ctm.num_epochs=100", "lda.passes=5"]`` -> {"ctm": {"num_epochs": 100}, "lda": {"passes": 5}}."""
    out: dict[str, dict] = {}
    for item in items:
        key, sep, value = item.partition("=")
        model, dot, param = key.partition(".")
        if not sep or not dot:
            raise SystemExit(f"--set expects MODEL.PARAM=VALUE (e.g. ctm.num_epochs=100), got {item!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(model, {})[param] = parsed
    return out


def run_grid(
    datasets,
    models,
    ks,
    seeds,
    *,
    out: Path,
    quick: bool = False,
    n_docs: int | None = None,
    overrides: dict | None = None,
    verbose: bool = False,
    list_only: bool = False,
) -> int:
    """Run every missing cell; return the number of failed cells."""
    from tqdm.auto import tqdm

    base = QUICK_CONFIG if quick else FULL_CONFIG
    configs = {m: {**base.get(m, {}), **(overrides or {}).get(m, {})} for m in models}
    done = read_done(out)
    errors_log = out.with_name(out.name + ".errors.log")
    topics_log = out.with_name(out.stem + "_topics.jsonl")

    def label(name: str) -> str:
        return f"{name}[:{n_docs}]" if n_docs else name

    todo = [
        (d, s, k, m)
        for d in datasets
        for s in seeds
        for k in ks
        for m in models
        if (m, label(d), k, s) not in done
    ]
    skipped = len(datasets) * len(seeds) * len(ks) * len(models) - len(todo)
    print(f"{len(todo)} cells to run, {skipped} already in {out}", file=sys.stderr)
    if list_only:
        for cell in todo:
            print("\t".join(map(str, cell)))
        return 0
    if not todo:
        return 0

    code = code_version()  # before the package is imported (and frozen in this process)
    from bertopic_sae.eval import OctisEvaluator, load_octis_corpus

    missing = {m: why for m in {cell[3] for cell in todo} if (why := unavailable(m))}
    for model_name, why in missing.items():
        print(f"skipping {model_name}: {why}", file=sys.stderr)
    todo = [cell for cell in todo if cell[3] not in missing]
    host = machine()
    failures = 0
    bar = tqdm(todo, desc="octis grid", unit="cell", mininterval=5)
    loaded = None
    for dataset_name, seed, k, model_name in bar:
        bar.set_postfix_str(f"{dataset_name} K={k} {model_name} seed={seed}")
        if loaded is None or loaded[0] != dataset_name:
            corpus = load_octis_corpus(dataset_name)
            if n_docs:
                corpus = corpus.subset(n_docs)
            embeddings = corpus.embeddings()
            evaluator = OctisEvaluator(corpus.dataset)
            loaded = (dataset_name, corpus, embeddings, evaluator)
        _, corpus, embeddings, evaluator = loaded
        config = configs[model_name]
        try:
            model = make_model(model_name, k, seed, embeddings, config, verbose=verbose)
            load1 = os.getloadavg()[0]
            with PeakRSS() as memory:
                start = time.perf_counter()
                output = model.train_model(corpus.dataset, top_words=10)
                fit_seconds = time.perf_counter() - start
            start = time.perf_counter()
            scores = evaluator.score(output)
            eval_seconds = time.perf_counter() - start
        except Exception:  # noqa: BLE001 - keep the grid going; the cell is retried on the next run
            failures += 1
            message = traceback.format_exc()
            print(f"FAILED {model_name} {dataset_name} K={k} seed={seed}\n{message}", file=sys.stderr)
            with open(errors_log, "a") as handle:
                handle.write(
                    f"{dt.datetime.now(dt.timezone.utc).isoformat()} {model_name} {dataset_name} "
                    f"K={k} seed={seed}\n{message}\n"
                )
            continue
        row = {
            "model": model_name,
            "dataset": label(dataset_name),
            "num_topics": k,
            "seed": seed,
            "n_topics_found": len(output["topics"]),
            "n_docs": len(corpus),
            "vocab_size": len(corpus.dataset.get_vocabulary()),
            **{key: round(value, 5) for key, value in scores.items()},
            "fit_seconds": round(fit_seconds, 2),
            "eval_seconds": round(eval_seconds, 2),
            "peak_rss_mb": round(memory.peak_mb, 1),
            "rss_delta_mb": round(memory.peak_mb - memory.start_mb, 1),
            "load1": round(load1, 2),
            "config": json.dumps(config, sort_keys=True),
            "machine": host,
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "code": code,
        }
        append_row(out, row)
        with open(topics_log, "a") as handle:
            handle.write(
                json.dumps(
                    {k_: row[k_] for k_ in ("model", "dataset", "num_topics", "seed")}
                    | {"topics": output["topics"]}
                )
                + "\n"
            )
        tqdm.write(
            f"{model_name:9s} {row['dataset']:14s} K={k:<4d} seed={seed} npmi={row.get('npmi')} "
            f"c_v={row.get('c_v')} td={row.get('td')} nmi={row.get('nmi')} fit={fit_seconds:.1f}s "
            f"rss={memory.peak_mb:.0f}MB",
            file=sys.stderr,
        )
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.octis_grid", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--ks", nargs="+", type=int, default=list(KS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: first {QUICK_DOCS} {QUICK_DATASET} docs, K={QUICK_K}, few epochs; "
        "writes to the cache, not to benchmarks/results (unless --out)",
    )
    parser.add_argument(
        "--n-docs", type=int, default=None, help="use only the first N documents of each dataset"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="MODEL.PARAM=VALUE",
        help="override a model hyperparameter (JSON value), e.g. --set ctm.num_epochs=100",
    )
    parser.add_argument("--out", type=Path, default=None, help=f"results CSV (default {DEFAULT_CSV})")
    parser.add_argument("--list", action="store_true", help="print the cells that would run and exit")
    parser.add_argument("--verbose", action="store_true", help="model progress bars and logs")
    args = parser.parse_args(argv)

    datasets, ks, n_docs, out = args.datasets, args.ks, args.n_docs, args.out
    if args.quick:
        from bertopic_sae.data import cache_dir

        explicit = {a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:])}
        datasets = datasets if "--datasets" in explicit else [QUICK_DATASET]
        ks = ks if "--ks" in explicit else [QUICK_K]
        n_docs = n_docs or QUICK_DOCS
        out = out or cache_dir() / "octis_quick.csv"
    out = out or DEFAULT_CSV
    failures = run_grid(
        datasets,
        args.models,
        ks,
        args.seeds,
        out=out,
        quick=args.quick,
        n_docs=n_docs,
        overrides=parse_overrides(args.overrides),
        verbose=args.verbose,
        list_only=args.list,
    )
    if failures:
        print(f"{failures} cell(s) failed; see {out.with_name(out.name + '.errors.log')}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
