"""Corpus adaptation on the development corpora (issue 18, item 2): frozen shipped SAE vs fine-tuned vs
an SAE trained from scratch on the corpus.

Corpora: random subsets (seed 0) of development documents whose MiniLM embeddings are cached: 2,000 of the
first 2,225 Reuters articles (``benchmarks/word_ranking.py --limit 2225``), 2,000 of the 8,000 health-news
headlines and of the 8,000 Trump tweets of ``benchmarks/foundation_sae.py`` ("small"), and 4,000 headlines
and Trump tweets ("medium"). IMDB was left out: none of its reviews had cached embeddings, and embedding
1,000 long reviews did not fit the session (2026-12-01). For each corpus,
three SAEs, each made once and used at every K:

* ``frozen``: the shipped MiniLM SAE (the default);
* ``fine-tune``: :func:`bertopic_sae.sae.adapt.fine_tune_sae` of it on the corpus (300 steps, lr 2e-4,
  batches of 500; timed);
* ``scratch``: an SAE trained on the corpus alone, sized to it (``sae="train"``: ``n/8`` atoms, >= 500 steps;
  timed).

Each SAE goes into ``bertopic_sae.BERTopic`` + ``SAEAtomMerger`` (defaults) at K = 20/50/100/200, scored by
``bertopic_sae.eval.OctisEvaluator`` (NPMI, C_V, TD, top 10 words, the corpus as reference), as in the
OCTIS grid. One CSV row per cell (resumable); then the decision under :data:`RULE`, fixed before any row
was measured.

Usage:

```bash
python -m benchmarks.adapt_dev run --threads 1
python -m benchmarks.adapt_dev report
```
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._machine import cpu_cores, cpu_model  # noqa: E402
from benchmarks.foundation_sae import _dataset, dev_texts  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_CSV = RESULTS / "adapt_dev.csv"
CANDIDATES = ("frozen", "fine-tune", "scratch")
# (corpus, documents): the "small" group first (it decides whether adaptation helps at all), then "medium".
SUBSETS = (("reuters", 2000), ("health_news_tweets", 2000), ("trump_tweets", 2000),
           ("health_news_tweets", 4000), ("trump_tweets", 4000))
FIELDS = ["corpus", "n_docs", "group", "vocab", "k", "sae", "seed", "npmi", "c_v", "td", "topics_found", "l0",
          "d_sae", "adapt_seconds", "fit_seconds", "load1", "date", "machine", "top_words"]
RULE = (
    "Per size group (small: <= 2,000 documents; medium: 4,000), each candidate's rank in every cell "
    "(corpus x K) on NPMI, a candidate with TD < 0.8 at K <= 100 (or whose fit failed) ranked last in that "
    "cell; the winner of "
    "the group has the lowest mean NPMI rank, ties broken by the mean C_V rank. Adaptation is adopted for a "
    "group only if fine-tune or scratch wins it (frozen stays on a tie). The corpus-size threshold of "
    "adapt='auto' is then the largest group size it wins if it wins every group, else the geometric mean "
    "of the largest won and the smallest lost group size; if it wins only a larger group and not the "
    "small one, no rule is adopted. (Fixed before the first row was measured, except the failed-fit clause, "
    "added when the first fit failed.)"
)


def group_of(n_docs: int) -> str:
    return "small" if n_docs <= 2000 else "medium"


def subset(corpus: str, n_docs: int, model) -> tuple[list[str], np.ndarray]:
    """``n_docs`` random documents (seed 0) of a development corpus and their (cached) embeddings."""
    from bertopic_sae.data import embed

    texts = dev_texts(corpus)
    if corpus == "reuters":  # word_ranking's first 2,225 (cached); foundation_sae's 3,000 never were
        texts = texts[:2225]
    embeddings = embed(texts, model, show_progress_bar=False)
    if n_docs >= len(texts):
        return texts, embeddings
    rows = np.sort(np.random.default_rng(0).choice(len(texts), n_docs, replace=False))
    return [texts[i] for i in rows], embeddings[rows]


def make_sae(which: str, embeddings: np.ndarray, seed: int):
    """``(sae, seconds)``: the candidate SAE for these embeddings and the time it took to make it."""
    from bertopic_sae.sae.adapt import fine_tune_sae
    from bertopic_sae.sae.pretrained import load_pretrained
    from bertopic_sae.sae.resolve import resolve_sae

    started = time.perf_counter()
    if which == "frozen":
        sae = load_pretrained()
    elif which == "fine-tune":
        sae = fine_tune_sae(load_pretrained(), embeddings, seed=seed)
    else:
        sae = resolve_sae("train", embeddings, seed=seed)
    return sae, time.perf_counter() - started


def run(args) -> None:
    import torch

    from bertopic_sae.data import default_embedding_model
    from bertopic_sae.eval import OctisEvaluator, SAETopicModel, seed_everything

    torch.set_num_threads(args.threads)
    done = set()
    if args.out.exists():
        with open(args.out) as handle:
            done = {(r["corpus"], int(r["n_docs"]), int(r["k"]), r["sae"], int(r["seed"]))
                    for r in csv.DictReader(handle)}
    model = default_embedding_model(device="cpu")
    machine = f"{cpu_model()}, {cpu_cores()} cores (shared), torch threads {torch.get_num_threads()}"
    for corpus, n_docs in SUBSETS:
        skip_group = args.groups and group_of(n_docs) not in args.groups
        if skip_group or (args.corpora and corpus not in args.corpora):
            continue
        texts, embeddings = subset(corpus, n_docs, model)
        n_docs = len(texts)
        dataset, evaluator = None, None
        for which in args.saes:
            for seed in args.seeds:
                todo = [k for k in args.ks if (corpus, n_docs, k, which, seed) not in done]
                if not todo:
                    continue
                if dataset is None:
                    dataset = _dataset(texts)
                    evaluator = OctisEvaluator(dataset, word_embeddings=False)
                sae, adapt_seconds = make_sae(which, embeddings, seed)
                for k in todo:
                    seed_everything(seed)
                    topic_model = SAETopicModel(num_topics=k, embeddings=embeddings, seed=seed,
                                                embedding_model=model, merger_params={"sae": sae})
                    load, started = os.getloadavg()[0], time.perf_counter()
                    try:
                        output = topic_model.train_model(dataset)
                    except ValueError as error:  # e.g. a small SAE has fewer live atoms than K topics
                        _append(args.out, _failed_row(corpus, n_docs, k, which, seed, sae, error, machine))
                        print(f"{corpus} {n_docs} K={k} {which}: failed ({error})", flush=True)
                        continue
                    seconds = time.perf_counter() - started
                    scores = evaluator.score(output)
                    merger = topic_model.model_.clustering_model
                    row = {
                        "corpus": corpus, "n_docs": n_docs, "group": group_of(n_docs),
                        "vocab": len(dataset.get_vocabulary()), "k": k, "sae": which, "seed": seed,
                        "npmi": round(scores["npmi"], 4), "c_v": round(scores["c_v"], 4),
                        "td": round(scores["td"], 4), "topics_found": len(output["topics"]),
                        "l0": round(merger.codes_.nnz / merger.codes_.shape[0], 1), "d_sae": sae.d_sae,
                        "adapt_seconds": round(adapt_seconds, 1), "fit_seconds": round(seconds, 1),
                        "load1": round(load, 2),
                        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                        "machine": machine,
                        "top_words": " | ".join(" ".join(t[:6]) for t in output["topics"][:3]),
                    }
                    _append(args.out, row)
                    print({key: row[key] for key in FIELDS[:16]}, flush=True)
    report(args.out)


def _failed_row(corpus, n_docs, k, which, seed, sae, error, machine) -> dict:
    """A cell whose fit failed: no scores (the rule ranks it last), the error in ``top_words``."""
    return {"corpus": corpus, "n_docs": n_docs, "group": group_of(n_docs), "vocab": "", "k": k, "sae": which,
            "seed": seed, "npmi": "", "c_v": "", "td": "", "topics_found": 0, "l0": "", "d_sae": sae.d_sae,
            "adapt_seconds": "", "fit_seconds": "", "load1": round(os.getloadavg()[0], 2),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine,
            "top_words": f"FAILED: {error}"[:300]}


def _append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, "a", newline="") as handle:  # one whole line per cell: a kill loses one cell at most
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def group_ranks(frame):
    """Mean NPMI and C_V ranks of every candidate per size group under :data:`RULE` (complete cells only)."""
    import pandas as pd

    keys = ["group", "corpus", "n_docs", "k", "sae"]
    cells = frame.groupby(keys)[["npmi", "c_v", "td"]].mean().reset_index()
    n_saes = cells["sae"].nunique()
    ranked = []
    for (_, _, _, k), cell in cells.groupby(["group", "corpus", "n_docs", "k"]):
        if len(cell) < n_saes:  # a cell not every candidate reached is left out
            continue
        cell = cell.copy()
        low_td = (cell["td"] < 0.8) & (k <= 100)
        for metric in ("npmi", "c_v"):  # a failed fit (no score) ranks last too
            score = cell[metric].where(~low_td, -np.inf).fillna(-np.inf)
            cell[f"{metric}_rank"] = score.rank(ascending=False, method="min")
        ranked.append(cell)
    table = pd.concat(ranked).groupby(["group", "sae"])[["npmi_rank", "c_v_rank", "npmi", "c_v", "td"]]
    return table.mean().join(pd.concat(ranked).groupby(["group", "sae"]).size().rename("cells"))


def decide(ranks) -> tuple[dict[str, str], int | None, str]:
    """The winner per group, the ``adapt="auto"`` threshold (None: no rule) and the adapting method."""
    sizes = {"small": 2000, "medium": 4000}
    winners = {}
    for group, table in ranks.groupby(level=0):
        table = table.droplevel(0)
        ordered = table.sort_values(["npmi_rank", "c_v_rank"])
        best = ordered.index[0]
        columns = ["npmi_rank", "c_v_rank"]
        tied = ordered.iloc[0][columns].equals(table.loc["frozen", columns])
        winners[group] = "frozen" if tied else best
    won = [g for g, w in winners.items() if w != "frozen"]
    if "small" not in won:
        return winners, None, ""
    methods = {winners[g] for g in won}
    method = winners["small"]
    if len(methods) > 1:  # different adapting methods win the two groups: the small group's decides
        won = ["small"]
    if "medium" in won or "medium" not in winners:
        return winners, sizes["medium" if "medium" in won else "small"], method
    return winners, int(round(math.sqrt(sizes["small"] * sizes["medium"]), -2)), method


def report(path: Path) -> None:
    import pandas as pd

    from bertopic_sae._io import atomic_write_text

    frame = pd.read_csv(path)
    ranks = group_ranks(frame)
    winners, threshold, method = decide(ranks)
    pivot = frame.pivot_table(index=["group", "corpus", "n_docs", "k"], columns="sae",
                              values=["npmi", "c_v", "td"]).round(3)
    costs = frame.groupby(["corpus", "n_docs", "sae"])[["adapt_seconds", "d_sae", "l0"]].first()
    verdict = (f"adapt='auto' fine-tunes ({method}) corpora of at most {threshold:,} documents"
               if threshold else "no adaptation rule is adopted: the frozen shipped SAE stays the default")
    lines = [
        "# Corpus adaptation on the development corpora",
        "",
        f"`python -m benchmarks.adapt_dev run` ({len(frame)} cells, {frame['date'].min()} to "
        f"{frame['date'].max()}; {frame['machine'].iloc[0]}; "
        f"seeds {sorted(frame['seed'].unique().tolist())}). "
        "Default merge and topic words; NPMI / C_V / TD by `bertopic_sae.eval.OctisEvaluator`, top 10 words, "
        "the corpus as reference.",
        "",
        f"**Rule** (fixed before measuring): {RULE}",
        "",
        "**Winners**: " + ", ".join(f"{g}: {w}" for g, w in winners.items()) + f". **Decision**: {verdict}.",
        "",
        "## Mean ranks per size group",
        "",
        ranks.round(3).to_markdown(),
        "",
        "## Cost of making each SAE (seconds, 1 thread, shared machine), its atoms and L0",
        "",
        costs.to_markdown(),
        "",
        "## Every cell",
        "",
        pivot.to_markdown(),
        "",
    ]
    atomic_write_text(path.with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines[:14]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="score each candidate on the development subsets")
    p.add_argument("--saes", nargs="+", choices=CANDIDATES, default=list(CANDIDATES))
    p.add_argument("--groups", nargs="+", choices=("small", "medium"), default=None)
    p.add_argument("--corpora", nargs="+", choices=sorted({c for c, _ in SUBSETS}), default=None)
    p.add_argument("--ks", nargs="+", type=int, default=[20, 50, 100, 200])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=DEFAULT_CSV)
    p = sub.add_parser("report", help="rewrite the markdown from the CSV")
    p.add_argument("--out", type=Path, default=DEFAULT_CSV)
    p = sub.add_parser("decide", help="print the rule's decision as JSON (threshold null: no rule)")
    p.add_argument("--out", type=Path, default=DEFAULT_CSV)
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    elif args.command == "decide":
        import json

        import pandas as pd

        winners, threshold, method = decide(group_ranks(pd.read_csv(args.out)))
        print(json.dumps({"winners": winners, "threshold": threshold, "method": method}))
    else:
        report(args.out)


if __name__ == "__main__":
    main()
