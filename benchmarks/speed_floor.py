"""Speed against the floor: each SAE-TM step against the unavoidable work under it, same process, same run.

20 Newsgroups (18,331 posts), all-MiniLM-L6-v2 embeddings given (from the on-disk cache), the shipped
``minilm-l6-v2`` SAE, K = 50. The floor of ``fit_transform`` is what any fit must do with these inputs:
the SAE encode of the embeddings plus vectorising the documents (the project's vocabulary). Goals
(issue 19): fit_transform ≤ 1.5x the floor, the emission EM ≤ 1 s, ``transform`` of 10,000 documents ≤ 1.3x
the bare SAE encode of them, ``set_n_topics`` ≤ 0.2 s. Each measurement is the median of ``--rounds``
rounds after one warm-up round (numba JIT, file caches). ``--profile`` also writes the top of a cProfile
of one ``fit_transform``.

Usage:

```bash
python benchmarks/speed_floor.py --rounds 3 --threads 1 [--profile]
```
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

RESULTS = Path(__file__).resolve().parent / "results"
GOALS = {"fit_ratio": 1.5, "emission_s": 1.0, "transform_ratio": 1.3, "set_n_topics_s": 0.2}


def measure_round(docs, E, model) -> dict:
    """One round of every measurement (seconds)."""
    from sklearn.preprocessing import normalize

    from bertopic_sae import BERTopic, EmissionModel, SAEAtomMerger, default_vectorizer, load_pretrained

    sae = load_pretrained("minilm-l6-v2")
    out = {}
    started = time.perf_counter()
    codes = sae.encode_csr(E, float16_grid=True)
    out["encode"] = time.perf_counter() - started
    started = time.perf_counter()
    counts = default_vectorizer(min_df="auto").fit_transform(docs)
    out["vectorise"] = time.perf_counter() - started
    started = time.perf_counter()
    EmissionModel(background_weight=0.3, random_state=42).fit(normalize(codes, norm="l1"), counts)
    out["emission"] = time.perf_counter() - started

    topic_model = BERTopic(clustering_model=SAEAtomMerger(n_topics=50, sae=sae), embedding_model=model)
    started = time.perf_counter()
    topic_model.fit_transform(docs, embeddings=E)
    out["fit_transform"] = time.perf_counter() - started
    new_docs, new_E = docs[:10_000], E[:10_000]
    started = time.perf_counter()
    sae.encode_csr(new_E, float16_grid=True)
    out["encode_10k"] = time.perf_counter() - started
    started = time.perf_counter()
    topics, _ = topic_model.transform(new_docs, embeddings=new_E)
    out["transform_10k"] = time.perf_counter() - started
    started = time.perf_counter()
    topic_model.set_n_topics(docs, 30)
    out["set_n_topics"] = time.perf_counter() - started
    out["topics"] = topic_model.topics_[:]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "speed_floor.md")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from _machine import cpu_cores, cpu_model

    from bertopic_sae.data import default_embedding_model, embed, load_corpus

    corpus = load_corpus("20newsgroups")
    model = default_embedding_model()
    E = embed(corpus.texts, model)
    docs = corpus.texts
    measure_round(docs, E, model)  # warm-up: numba JIT, word-vector cache, file caches
    rounds = [measure_round(docs, E, model) for _ in range(args.rounds)]
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0] if k != "topics"}
    same = all(r["topics"] == rounds[0]["topics"] for r in rounds)
    floor = med["encode"] + med["vectorise"]
    rows = [
        ("fit_transform / (SAE encode + vectorising)", f"{med['fit_transform']:.2f} / {floor:.2f} s",
         med["fit_transform"] / floor, GOALS["fit_ratio"], "×"),
        ("emission EM", f"{med['emission']:.2f} s", med["emission"], GOALS["emission_s"], "s"),
        ("transform of 10,000 / bare SAE encode of them",
         f"{med['transform_10k']:.3f} / {med['encode_10k']:.3f} s", med["transform_10k"] / med["encode_10k"],
         GOALS["transform_ratio"], "×"),
        ("set_n_topics (50 → 30)", f"{med['set_n_topics']:.3f} s", med["set_n_topics"],
         GOALS["set_n_topics_s"], "s"),
    ]
    load = os.getloadavg()[0]
    lines = [
        "# Speed against the floor (benchmarks/speed_floor.py)", "",
        f"* Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. Machine: {cpu_model()}, "
        f"{cpu_cores()} cores (shared), torch threads {args.threads}; load average {load:.1f} at the "
        "end.",
        f"* 20 Newsgroups ({len(docs):,} posts), all-MiniLM-L6-v2 embeddings given, shipped minilm-l6-v2 "
        f"SAE, K = 50. Median of {args.rounds} rounds after a warm-up round; topics identical across "
        f"rounds: {same}.",
        "", "| measurement | measured | value | goal | met |", "|---|---|---|---|---|",
    ]
    for name, raw, value, goal, unit in rows:
        met = "yes" if value <= goal else "no"
        lines.append(f"| {name} | {raw} | {value:.2f}{unit} | ≤ {goal}{unit} | {met} |")
    lines += ["", "Seconds per step (median): " + ", ".join(f"{k} {v:.3f}" for k, v in med.items()), ""]
    if args.profile:
        import cProfile
        import io
        import pstats

        from bertopic_sae import BERTopic, SAEAtomMerger, load_pretrained

        profiler = cProfile.Profile()
        topic_model = BERTopic(clustering_model=SAEAtomMerger(n_topics=50, sae=load_pretrained()),
                               embedding_model=model)
        profiler.enable()
        topic_model.fit_transform(docs, embeddings=E)
        topic_model.set_n_topics(docs, 30)
        profiler.disable()
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(40)
        lines += ["## cProfile of one fit_transform + set_n_topics (top 40, cumulative)", "", "```",
                  buffer.getvalue().strip()[-12000:], "```", ""]
    from bertopic_sae._io import atomic_write_text

    atomic_write_text(args.out, "\n".join(lines))
    print("\n".join(lines[:14 + len(rows)]))


if __name__ == "__main__":
    main()
