"""Foundation SAEs for all-MiniLM-L6-v2 compared on the development corpora (issue 18, items 1-2).

Four steps, each resumable:

* ``sentences``: the pretraining text, one section per line, shuffled (seed 0) so that any prefix is a
  sample of the whole: sentences of the IMDB reviews after the 4,000 the table may score and of the Reuters
  articles after word_ranking's 12,000, plus every health-news and Trump tweet the table does not score;
* ``docs``: write development documents that the table does *not* score (health-news and Trump tweets
  outside its samples, Reuters articles past its 12,000, IMDB reviews past its 4,000) as JSON lines, for
  ``bertopic-sae embed``;
* ``train-set``: one float16 ``.npy`` of SAE training embeddings: the finished shards of the sentence
  embeddings (IMDB review sentences, health-news and Trump tweets) minus every tweet the table scores,
  plus those held-out documents;
* ``run``: ``bertopic_sae.BERTopic`` + ``SAEAtomMerger`` (default merge, ``merge_init="consensus"``) with each
  candidate SAE on the development corpora (the first 3,000 of the 12,000 Reuters articles of
  ``benchmarks/word_ranking.py``, its 8,000 health-news headlines, 8,000 Trump tweets drawn the same way,
  the first 1,000 IMDB reviews), scored by
  ``bertopic_sae.eval.OctisEvaluator`` (NPMI, C_V, TD over the top 10 words, the corpus as reference, the
  5,000-word vocabulary recipe of the OCTIS grid's 20NG). One CSV row per cell; then the tables and the
  winner under :data:`RULE`, fixed before any row was measured.

Usage:

```bash
python -m benchmarks.foundation_sae sentences --out /work/emb/dev-sentences-shuffled.txt
bertopic-sae embed /work/emb/dev-sentences-shuffled.txt --shard-size 50000 --precision bfloat16 \
    --out /work/emb/minilm-dev-sentences
python -m benchmarks.foundation_sae docs --out /work/emb/dev-docs.jsonl
python -m benchmarks.foundation_sae train-set --shards /work/emb/minilm-dev-sentences \
    --docs /work/emb/minilm-dev-docs --out /work/emb/foundation-train.npy
python -m benchmarks.foundation_sae run --sae shipped=bertopic_sae/sae/pretrained/minilm-l6-v2 \
    --sae matryoshka-16=/work/emb/sae-matryoshka-16 --ks 20 50 100 200
```
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._machine import cpu_cores, cpu_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_CSV = RESULTS / "foundation_sae_dev.csv"
DEV_CORPORA = ("reuters", "health_news_tweets", "trump_tweets", "imdb")
FIELDS = ["corpus", "n_docs", "vocab", "k", "sae", "seed", "npmi", "c_v", "td", "topics_found", "atom_prefix",
          "l0", "d_sae", "fit_seconds", "load1", "date", "machine", "top_words"]
REFERENCE = "k-means + c-TF-IDF (reference)"
"""Name of the ``--reference`` rows: BERTopic with k-means on the raw embeddings, not an SAE candidate."""
WORDS_SUFFIX = " + c-TF-IDF words"
"""Suffix of the ``--words ctfidf`` rows: a diagnostic (same clusters, other words), never ranked."""
RULE = (
    "Winner: the lowest mean NPMI rank over the development cells (corpus x K), a candidate whose TD is "
    "below 0.8 in a cell ranked last there, ties broken by the mean C_V rank. It replaces the shipped SAE "
    "only if it is not the shipped SAE itself (fixed before the first row was measured)."
)


def dev_texts(name: str) -> list[str]:
    """The documents of a development corpus that the table scores (see the module docstring)."""
    from bertopic_sae.data import load_corpus

    texts = load_corpus(name).texts
    if name == "reuters":  # the first 3,000 of word_ranking's 12,000 (embedding all 12,000 did not fit)
        return [t for t in texts if len(t.split()) >= 5][:3000]
    if name in ("health_news_tweets", "trump_tweets"):
        texts = [t for t in texts if len(t.split()) >= 4]
        return [texts[i] for i in np.sort(np.random.default_rng(0).choice(len(texts), 8000, replace=False))]
    if name == "imdb":
        return texts[:1000]
    raise ValueError(f"not a development corpus: {name!r}; choose one of {', '.join(DEV_CORPORA)}.")


def held_out_docs(n_tweets: tuple[int, int] = (10000, 8000), n_long: tuple[int, int] = (1000, 300),
                  seed: int = 0) -> list[str]:
    """Development documents the table never scores, sampled with ``seed``: ``n_tweets`` health-news and
    Trump tweets outside its 8,000 + 8,000, ``n_long`` Reuters articles after its 12,000 and IMDB reviews
    after its 4,000 (so an SAE trained on them is not fit on the scored text)."""
    from bertopic_sae.data import load_corpus

    rng = np.random.default_rng(seed)
    pools = []
    for name in ("health_news_tweets", "trump_tweets"):
        scored = set(dev_texts(name))
        pools.append([t for t in load_corpus(name).texts if t not in scored])
    pools.append([t for t in load_corpus("reuters").texts if len(t.split()) >= 5][12000:])
    pools.append(load_corpus("imdb").texts[4000:])
    pick: list[str] = []
    for pool, count in zip(pools, (*n_tweets, *n_long), strict=True):
        chosen = np.sort(rng.choice(len(pool), min(count, len(pool)), replace=False))
        pick += [pool[i] for i in chosen]
    return pick


def write_sentences(out: Path, seed: int = 0) -> None:
    """The shuffled pretraining sections (see the module docstring), with their counts beside them."""
    from benchmarks.scale_corpus import sentences
    from bertopic_sae._io import atomic_write_text
    from bertopic_sae.data import load_corpus

    reuters = [t for t in load_corpus("reuters").texts if len(t.split()) >= 5][12000:]
    sources = {
        "imdb_sentences": [s for t in load_corpus("imdb").texts[4000:] for s in sentences(t)],
        "reuters_sentences": [s for t in reuters for s in sentences(t)],
    }
    for name in ("health_news_tweets", "trump_tweets"):
        scored = set(dev_texts(name))
        texts = load_corpus(name).texts
        sources[name] = [" ".join(t.split()) for t in texts if t not in scored and t.strip()]
    lines = [line for part in sources.values() for line in part]
    order = np.random.default_rng(seed).permutation(len(lines))
    atomic_write_text(out, "".join(lines[i] + "\n" for i in order))
    counts = {name: len(part) for name, part in sources.items()} | {"total": len(lines), "seed": seed}
    atomic_write_text(out.with_suffix(".counts.json"), json.dumps(counts, indent=2))
    print(json.dumps(counts), flush=True)


def write_docs(out: Path) -> None:
    from bertopic_sae._io import atomic_write_text

    docs = held_out_docs()
    atomic_write_text(out, "".join(json.dumps({"text": t}) + "\n" for t in docs))
    print(f"wrote {len(docs):,} held-out development documents to {out}")


def build_train_set(shards: Path, docs: list[Path], out: Path) -> None:
    """Finished sentence shards (scored tweets removed) + held-out document embeddings -> one float16 .npy."""
    from bertopic_sae._io import atomic_save_npy, atomic_write_text

    manifest = json.loads((shards / "manifest.json").read_text())
    from bertopic_sae.data import read_texts

    lines = read_texts(manifest["source"], limit=int(manifest["n_rows"]))  # row i = document i, as embedded
    scored = set(dev_texts("health_news_tweets")) | set(dev_texts("trump_tweets"))
    parts, start, counts = [], 0, {"sentence rows": 0, "scored tweets dropped": 0, "documents": 0}
    for shard in manifest["shards"]:
        path = shards / shard["file"]
        rows = int(shard["rows"])
        if not path.exists():  # shards are written in order: the first missing one ends the finished part
            break
        block = np.load(path, mmap_mode="r")
        keep = np.array([lines[start + i] not in scored for i in range(rows)])
        parts.append(np.asarray(block[keep], dtype=np.float16))
        counts["sentence rows"] += int(keep.sum())
        counts["scored tweets dropped"] += int((~keep).sum())
        start += rows
    from bertopic_sae.data import ShardedEmbeddings

    for folder in docs:
        X = ShardedEmbeddings(folder)
        parts.append(np.asarray(X[0 : X.shape[0]], dtype=np.float16))
        counts["documents"] += X.shape[0]
    data = np.concatenate(parts)
    atomic_save_npy(out, data)
    counts.update({"total": int(data.shape[0]), "sentence shards used": len(parts) - len(docs)})
    atomic_write_text(out.with_suffix(".json"), json.dumps(counts, indent=2))
    print(json.dumps({**counts, "total": int(data.shape[0])}), flush=True)


def _dataset(texts: list[str]):
    from bertopic_sae.eval._base import Dataset
    from bertopic_sae.eval.corpora import shared_vocabulary_corpus

    tokens, vocab = shared_vocabulary_corpus(texts)
    metadata = {"last-training-doc": len(tokens), "last-validation-doc": len(tokens)}
    return Dataset(corpus=tokens, vocabulary=vocab, labels=None, metadata=metadata)


def _load_sae(spec: str):
    """``name=folder[@prefix]``: the SAE in ``folder``, merged with ``atom_prefix=prefix`` (default auto)."""
    from bertopic_sae import SparseAutoencoder

    name, _, rest = spec.partition("=")
    folder, _, prefix = rest.partition("@")
    if not name or not folder:
        raise SystemExit(f"--sae takes NAME=FOLDER[@PREFIX], got {spec!r}")
    atom_prefix: int | str = "auto" if not prefix else (int(prefix) if prefix.isdigit() else prefix)
    return name, SparseAutoencoder.from_pretrained(folder), atom_prefix


def run(args) -> None:
    import torch

    from bertopic_sae.data import default_embedding_model
    from bertopic_sae.eval import KMeansBERTopicModel, SAETopicModel, seed_everything

    if args.threads:
        torch.set_num_threads(args.threads)
    from bertopic.vectorizers import ClassTfidfTransformer

    from bertopic_sae import EmissionTopicWords

    saes = [_load_sae(spec) for spec in args.sae or []]
    merger_params = dict(_keyword(spec) for spec in args.merger)
    word_params = dict(_keyword(spec) for spec in args.topic_words)
    if word_params and args.words == "ctfidf":
        raise SystemExit("--topic-words sets the emission words; it does not go with --words ctfidf")
    if args.words == "ctfidf":  # the same clusters, BERTopic's c-TF-IDF words instead of the emission model's
        saes = [(f"{name}{WORDS_SUFFIX}", sae, prefix) for name, sae, prefix in saes]
    if args.reference:  # scored beside the SAEs, never ranked (see winner)
        saes.append((REFERENCE, None, None))
    done = done_cells(args.out, "sae")
    model = default_embedding_model(device="cpu")
    machine = f"{cpu_model()}, {cpu_cores()} cores (shared), torch threads {torch.get_num_threads()}"
    for corpus in args.corpora:
        texts, embeddings, dataset, evaluator = dev_corpus(corpus, model)
        for k in args.ks:
            for name, sae, atom_prefix in saes:
                for seed in args.seeds:
                    if (corpus, k, name, seed) in done:
                        continue
                    seed_everything(seed)
                    if sae is None:
                        topic_model = KMeansBERTopicModel(num_topics=k, embeddings=embeddings, seed=seed)
                    else:
                        words = {"ctfidf_model": ClassTfidfTransformer()} if args.words == "ctfidf" else {}
                        if word_params:
                            words = {"ctfidf_model": EmissionTopicWords(**word_params)}
                        topic_model = SAETopicModel(
                            num_topics=k, embeddings=embeddings, seed=seed, embedding_model=model,
                            model_params=words,
                            merger_params={"sae": sae, "atom_prefix": atom_prefix, **merger_params},
                        )
                    load, started = os.getloadavg()[0], time.perf_counter()
                    output = topic_model.train_model(dataset)
                    seconds = time.perf_counter() - started
                    scores = evaluator.score(output)
                    merger = topic_model.model_.clustering_model if sae is not None else None
                    row = {
                        "corpus": corpus, "n_docs": len(texts), "vocab": len(dataset.get_vocabulary()),
                        "k": k,
                        "sae": name, "seed": seed, "npmi": round(scores["npmi"], 4),
                        "c_v": round(scores["c_v"], 4), "td": round(scores["td"], 4),
                        "topics_found": len(output["topics"]),
                        "atom_prefix": "" if merger is None else merger.atom_prefix_ or "all",
                        "l0": "" if merger is None else round(merger.codes_.nnz / merger.codes_.shape[0], 1),
                        "d_sae": "" if sae is None else sae.d_sae,
                        "fit_seconds": round(seconds, 1), "load1": round(load, 2),
                        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                        "machine": machine,
                        "top_words": " | ".join(" ".join(t[:6]) for t in output["topics"][:3]),
                    }
                    _append(args.out, row)
                    print({key: row[key] for key in FIELDS[:14]}, flush=True)
    report(args.out)


def done_cells(path: Path, candidate: str) -> set[tuple]:
    """``(corpus, k, <candidate column>, seed)`` of the rows a results CSV already holds (runs resume)."""
    if not path.exists():
        return set()
    with open(path) as handle:
        return {(r["corpus"], int(r["k"]), r[candidate], int(r["seed"])) for r in csv.DictReader(handle)}


def dev_corpus(corpus: str, model):
    """``(texts, embeddings, dataset, evaluator)`` of a development corpus (embeddings from the cache)."""
    from bertopic_sae.data import embed
    from bertopic_sae.eval import OctisEvaluator

    texts = dev_texts(corpus)
    dataset = _dataset(texts)
    return texts, embed(texts, model, show_progress_bar=False), dataset, OctisEvaluator(dataset,
                                                                                       word_embeddings=False)


def _append(path: Path, row: dict) -> None:
    append_row(path, row, FIELDS)


def append_row(path: Path, row: dict, fields: list[str]) -> None:
    """Append one cell's row to a results CSV (its header first when new), so runs can resume."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, "a", newline="") as handle:  # one whole line per cell: a kill loses one cell at most
        writer = csv.DictWriter(handle, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerow(row)


def _keyword(spec: str) -> tuple[str, object]:
    """``key=value`` -> a keyword argument (integers and floats parsed; of SAEAtomMerger or
    EmissionTopicWords)."""
    key, sep, value = spec.partition("=")
    if not sep or not key:
        raise SystemExit(f"--merger takes KEY=VALUE, got {spec!r}")
    for kind in (int, float):
        try:
            return key, kind(value)
        except ValueError:
            pass
    return key, value


def winner(frame) -> tuple[str, object]:
    """The winner under :data:`RULE` and the table of mean ranks it was read from (the reference and
    c-TF-IDF-words rows left out)."""
    frame = frame[(frame["sae"] != REFERENCE) & ~frame["sae"].str.endswith(WORDS_SUFFIX)]
    cells = frame.groupby(["corpus", "k", "sae"])[["npmi", "c_v", "td"]].mean().reset_index()
    n_saes = cells["sae"].nunique()
    ranked = []
    for _, cell in cells.groupby(["corpus", "k"]):
        if len(cell) < n_saes:  # a cell not every candidate finished is left out of the ranking
            continue
        cell = cell.copy()
        low_td = cell["td"] < 0.8
        for metric in ("npmi", "c_v"):
            score = cell[metric].where(~low_td, -np.inf)
            cell[f"{metric}_rank"] = score.rank(ascending=False, method="min")
        ranked.append(cell)
    if not ranked:
        raise SystemExit(
            "No development cell holds an SAE candidate (only reference or c-TF-IDF-words rows): add a run "
            "with --sae NAME=FOLDER to rank, or read the CSV's reference rows directly."
        )
    import pandas as pd

    table = pd.concat(ranked).groupby("sae")[["npmi_rank", "c_v_rank", "npmi", "c_v", "td"]].mean()
    table = table.sort_values(["npmi_rank", "c_v_rank"])
    return str(table.index[0]), table


def report(path: Path) -> None:
    import pandas as pd

    from bertopic_sae._io import atomic_write_text

    frame = pd.read_csv(path)
    pivot = frame.groupby(["corpus", "k", "sae"])[["npmi", "c_v", "td", "l0", "fit_seconds"]].mean().round(3)
    best, ranks = winner(frame)
    machine = frame["machine"].iloc[0]
    lines = [
        "# Foundation SAEs on the development corpora",
        "",
        f"`python -m benchmarks.foundation_sae run ...` ({len(frame)} cells, {frame['date'].min()} to "
        f"{frame['date'].max()}; {machine}; seeds {sorted(frame['seed'].unique().tolist())}). Default merge "
        "(`merge_init=\"consensus\"`, `atom_prefix=\"auto\"` unless the SAE name says otherwise), default "
        "topic words; NPMI / C_V / TD by `bertopic_sae.eval.OctisEvaluator`, top 10 words, the corpus as "
        "reference.",
        "",
        f"**Rule** (fixed before measuring): {RULE}",
        "",
        f"**Winner: {best}.**",
        "",
        "## Mean ranks over the development cells",
        "",
        ranks.round(3).to_markdown(),
        "",
        "## Mean NPMI over the corpora, by K",
        "",
        frame.pivot_table(index="k", columns="sae", values="npmi").round(3).to_markdown(),
        "",
        "## Every cell",
        "",
        pivot.to_markdown(),
        "",
    ]
    atomic_write_text(path.with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines[:12]))


def grid_report(new: Path, peers: Path, previous: Path | None = None) -> None:
    """Every OCTIS-grid cell of the new SAE rows against the committed peers (mean over their seeds):
    the rank on NPMI and C_V, the gap to the best peer and its seed spread, and NPMI's change from K = 20
    to 200; with ``previous`` (SAE rows of the previous defaults measured in the same session) the change
    from them, cell by cell."""
    import pandas as pd

    from bertopic_sae._io import atomic_write_text

    fresh = pd.read_csv(new, dtype={"code": str}).assign(model="sae (new defaults)")  # "8252e24" is no float
    committed = pd.read_csv(peers)
    committed["model"] = committed["model"].replace({"sae": "sae (committed)"})
    frame = pd.concat([committed, fresh])
    stats = frame.groupby(["dataset", "num_topics", "model"])[["npmi", "c_v", "td"]].agg(["mean", "std"])
    lines = ["# OCTIS grid: SAE cells at the new defaults against the committed peers", "",
             f"New rows: `{new.name}` ({len(fresh)} cells, seeds {sorted(fresh['seed'].unique().tolist())}, "
             f"code {', '.join(sorted(fresh['code'].astype(str).unique()))}); peers: `{peers.name}` "
             "(means over their seeds; the committed SAE rows were measured with 0.1.0's single k-means++ "
             "merge).", "",
             "| dataset | K | new NPMI | rank | best other (NPMI) | Δ (spread) | new C_V | rank | "
             "best other (C_V) | Δ (spread) | new TD |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (dataset, k), cell in stats.groupby(level=[0, 1]):
        cell = cell.droplevel([0, 1])
        if "sae (new defaults)" not in cell.index:  # a cell the new run did not reach
            continue
        row = [dataset, str(k)]
        for metric in ("npmi", "c_v"):
            means = cell[(metric, "mean")]
            ours = means["sae (new defaults)"]
            others = means.drop(["sae (new defaults)", "sae (committed)"], errors="ignore")
            best = others.idxmax()
            spread = cell.loc[best, (metric, "std")]
            rank = int((others > ours).sum()) + 1
            row += [f"{ours:.3f}", f"{rank} of {len(others) + 1}", f"{best} {others[best]:.3f}",
                    f"{ours - others[best]:+.3f} (±{0 if pd.isna(spread) else spread:.3f})"]
        row.append(f"{cell.loc['sae (new defaults)', ('td', 'mean')]:.2f}")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "NPMI change from K = 20 to K = 200:", "",
              "| dataset | new SAE | committed SAE | best peer at K=20 |", "|---|---|---|---|"]
    means = frame.groupby(["dataset", "model", "num_topics"])["npmi"].mean()

    def change(dataset, model):
        try:
            a, b = means[(dataset, model, 20)], means[(dataset, model, 200)]
        except KeyError:
            return "n/a"
        return f"{a:.3f} → {b:.3f} ({(b - a) / abs(a) * 100:+.0f}%)"

    for dataset in sorted(frame["dataset"].unique()):
        at20 = means.xs((dataset,), level=[0]).xs(20, level="num_topics")
        peer = at20.drop(["sae (new defaults)", "sae (committed)"], errors="ignore").idxmax()
        lines.append(f"| {dataset} | {change(dataset, 'sae (new defaults)')} | "
                     f"{change(dataset, 'sae (committed)')} | {peer}: {change(dataset, peer)} |")
    if previous is not None:
        lines += _against_previous(fresh, pd.read_csv(previous, dtype={"code": str}), previous.name)
    atomic_write_text(new.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


def _against_previous(fresh, previous, name: str) -> list[str]:
    """Markdown lines: the new SAE rows against the previous defaults' rows, cell by cell (same seeds)."""
    keys = ["dataset", "num_topics"]
    cells = fresh.groupby(keys)[["npmi", "c_v", "td"]].mean().join(
        previous.groupby(keys)[["npmi", "c_v", "td"]].mean(), rsuffix="_previous", how="inner")
    lines = ["", f"Against the previous defaults measured in the same session (`{name}`, "
             f"{previous['config'].iloc[0]}, seeds {sorted(previous['seed'].unique().tolist())}):", "",
             "| dataset | K | NPMI new | NPMI previous | Δ | C_V Δ | TD new | TD previous |",
             "|---|---|---|---|---|---|---|---|"]
    for (dataset, k), row in cells.iterrows():
        lines.append(f"| {dataset} | {k} | {row['npmi']:.3f} | {row['npmi_previous']:.3f} | "
                     f"{row['npmi'] - row['npmi_previous']:+.3f} | {row['c_v'] - row['c_v_previous']:+.3f} | "
                     f"{row['td']:.2f} | {row['td_previous']:.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sentences", help="write the shuffled pretraining sections (one per line)")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("docs", help="write the held-out development documents (JSON lines)")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("train-set", help="assemble the SAE training embeddings")
    p.add_argument("--shards", type=Path, required=True, help="the sentence embedding folder")
    p.add_argument("--docs", type=Path, nargs="*", default=[], help="embedding folders of held-out documents")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("run", help="score each SAE on the development corpora")
    p.add_argument("--sae", action="append", help="NAME=FOLDER[@PREFIX], repeatable")
    p.add_argument("--words", choices=("emission", "ctfidf"), default="emission",
                   help="topic words of the SAE candidates: the default emission model, or c-TF-IDF")
    p.add_argument("--merger", action="append", default=[], metavar="KEY=VALUE",
                   help="an SAEAtomMerger parameter for every SAE candidate (e.g. centroid_init=documents); "
                        "name the candidates so the rows say it")
    p.add_argument("--topic-words", action="append", default=[], metavar="KEY=VALUE",
                   help="an EmissionTopicWords parameter of the emission words (e.g. share_prior=30)")
    p.add_argument("--reference", action="store_true",
                   help="also score k-means + c-TF-IDF on the same cells (shown, never ranked)")
    p.add_argument("--corpora", nargs="+", choices=DEV_CORPORA, default=list(DEV_CORPORA))
    p.add_argument("--ks", nargs="+", type=int, default=[20, 50, 100, 200])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=DEFAULT_CSV)
    p = sub.add_parser("report", help="rewrite the markdown from the CSV")
    p.add_argument("--out", type=Path, default=DEFAULT_CSV)
    p = sub.add_parser("grid-report", help="new OCTIS-grid SAE rows against the committed peers")
    p.add_argument("--new", type=Path, required=True)
    p.add_argument("--peers", type=Path, default=RESULTS / "octis_grid.csv")
    p.add_argument("--previous", type=Path, default=None,
                   help="SAE rows of the previous defaults from the same session, compared cell by cell")
    args = parser.parse_args()
    if args.command == "sentences":
        write_sentences(args.out)
    elif args.command == "docs":
        write_docs(args.out)
    elif args.command == "train-set":
        build_train_set(args.shards, args.docs, args.out)
    elif args.command == "run":
        if not args.sae and not args.reference:
            parser.error("run needs at least one --sae NAME=FOLDER (or --reference)")
        run(args)
    elif args.command == "grid-report":
        grid_report(args.new, args.peers, args.previous)
    else:
        report(args.out)


if __name__ == "__main__":
    main()
