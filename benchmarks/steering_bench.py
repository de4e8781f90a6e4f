"""Steering benchmark: steer SmolLM2 towards topics and trade topic relevance against fluency.

Topics: SAE-TM (``bertopic_sae.BERTopic`` + ``SAEAtomMerger(n_topics=10)``) on a development corpus (Reuters,
first ``--n-docs`` documents; never a benchmark corpus). Directions, until the mechanistic models land: the
difference of mean SmolLM2 residual activations at ``--layer`` between a topic's documents and all documents
(``bertopic_sae.judges.MeanDifferenceDirections``, up to 24 documents per topic, 64 tokens each). Any source
with ``layer`` and ``topic_direction(k)`` plugs in with one argument: ``--source module:function``, a function
returning ``(name, source, topic_words, topic_documents)`` (an MTM model, for instance).

Grid: topics x ``--strengths`` (λ, relative mode: the component along v_k set to λ·|h|; 0 = projected out)
x neutral prompts, greedy decoding, ``--tokens`` new tokens. Scores per row
(``bertopic_sae.judges.steering_eval``): relevance by the SmolLM2 judge (both orders averaged) and by the
embedding judge, each a win when the steered
continuation beats the unsteered one on the topic's words; Δℓ of 4 held-out topic documents; perplexity of
the continuation under the unsteered LM. Writes ``results/steering_<name>.md/.csv/.png``.

Usage:

```bash
python -m benchmarks.steering_bench                      # ~15-30 min on 2 busy cores
python -m benchmarks.steering_bench --topics 2 --strengths 0 0.5 --prompts 1 --tokens 12   # smoke run
```
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib
import os
from pathlib import Path

import numpy as np

from benchmarks._machine import cpu_cores, cpu_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = Path(__file__).resolve().parent / "results"
PROMPTS = [
    "Write a few sentences about anything you like.",
    "Tell me about your day.",
    "Continue the story: It was a quiet morning when",
    "What should I know?",
]


def sae_tm_topics(lm, n_docs: int, n_topics: int, layer: int, verbose: bool):
    """SAE-TM topics on Reuters and their mean-difference directions at ``layer``."""
    from bertopic_sae import BERTopic, SAEAtomMerger
    from bertopic_sae.datasets import default_embedding_model, embed, load_corpus
    from bertopic_sae.judges import MeanDifferenceDirections

    corpus = load_corpus("reuters", limit=n_docs)
    texts = list(corpus.texts)
    model_st = default_embedding_model(device="cpu")
    embeddings = embed(texts, model_st, show_progress_bar=verbose)
    model = BERTopic(clustering_model=SAEAtomMerger(n_topics=n_topics), embedding_model=model_st)
    topics = np.asarray(model.fit_transform(texts, embeddings=embeddings)[0])
    words = {k: [w for w, _ in model.get_topic(k)[:10]] for k in range(n_topics)}
    fit_texts, fit_labels, held_out = [], [], {}
    for k in range(n_topics):
        rows = np.flatnonzero(topics == k)
        held_out[k] = [texts[i] for i in rows[:4]]
        fit_texts += [texts[i] for i in rows[4:28]]
        fit_labels += [k] * len(rows[4:28])
    source = MeanDifferenceDirections(layer=layer, verbose=verbose).fit(lm, fit_texts, fit_labels)
    usable = [k for k in range(n_topics) if k in source.topics_ and len(held_out[k]) >= 2]
    return (
        "sae-tm-reuters-meandiff",
        source,
        {k: words[k] for k in usable},
        {k: held_out[k] for k in usable},
    )


def plot(table: list[dict], path: Path, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for key, label in [("win_lm", "SmolLM2 judge"), ("win_emb", "embedding judge")]:
        ax.plot([t["perplexity"] for t in table], [t[key] for t in table], marker="o", label=label)
        for t in table:
            ax.annotate(f"λ={t['strength']:g}", (t["perplexity"], t[key]), fontsize=7)
    ax.axhline(0.5, color="grey", lw=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("median perplexity of the continuation (unsteered LM)")
    ax.set_ylabel("topic relevance win rate vs unsteered")
    ax.set_title(name, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--source", help="module:function returning (name, source, topic_words, topic_documents)"
    )
    parser.add_argument("--layer", type=int, default=15)
    parser.add_argument("--n-docs", type=int, default=1500)
    parser.add_argument("--topics", type=int, default=10)
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.0, 0.25, 0.5, 1.0])
    parser.add_argument("--mode", choices=["absolute", "relative"], default="relative")
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    from bertopic_sae.judges import EmbeddingJudge, LMJudge, steering_sweep, summarize
    from bertopic_sae.lm import load_causal_lm

    lm = load_causal_lm(verbose=False)
    if args.source:
        module, function = args.source.split(":")
        name, source, words, docs = getattr(importlib.import_module(module), function)(lm)
    else:
        name, source, words, docs = sae_tm_topics(lm, args.n_docs, args.topics, args.layer, args.verbose)
    topics = sorted(words)[: args.topics]
    common = dict(
        topics=topics,
        prompts=PROMPTS[: args.prompts],
        strengths=args.strengths,
        topic_words=words,
        topic_documents=docs,
        mode=args.mode,
        max_new_tokens=args.tokens,
    )
    rows = steering_sweep(lm, source, judge=LMJudge(lm, verbose=False), verbose=True, **common)
    emb = EmbeddingJudge()
    emb_rel = {}
    for r in rows:
        scores = emb.compare(", ".join(words[r.topic][:8]), [r.text, r.baseline])
        emb_rel[(r.topic, r.strength, r.prompt)] = float(scores[0] > scores[1])
    table = summarize(rows)
    for t in table:
        group = [emb_rel[(r.topic, r.strength, r.prompt)] for r in rows if r.strength == t["strength"]]
        t["win_lm"], t["win_emb"] = t.pop("win_rate"), float(np.mean(group))
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"steering_{name}_{args.mode}"
    with open(f"{stem}.csv.tmp", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "topic",
                "strength",
                "prompt",
                "perplexity",
                "delta_loglik",
                "relevance_lm",
                "win_embedding",
                "text",
                "baseline",
            ]
        )
        for r in rows:
            writer.writerow(
                [
                    r.topic,
                    r.strength,
                    r.prompt,
                    f"{r.perplexity:.2f}",
                    f"{r.delta_loglik:.4f}",
                    f"{r.relevance:.3f}",
                    emb_rel[(r.topic, r.strength, r.prompt)],
                    r.text,
                    r.baseline,
                ]
            )
    os.replace(f"{stem}.csv.tmp", f"{stem}.csv")
    lines = [
        f"# Steering SmolLM2-135M-Instruct: {name}",
        "",
        f"Machine: {cpu_cores()} cores {cpu_model()}; {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        f"Layer {source.layer}, {args.mode} strengths, {len(topics)} topics x {len(common['prompts'])} "
        f"prompts, "
        f"greedy, {args.tokens} new tokens. Written by `python -m benchmarks.steering_bench`.",
        "",
        "| λ | rows | win rate (SmolLM2 judge) | mean P(steered more on-topic) | "
        "win rate (embedding judge) | "
        "mean Δℓ (nats/token) | median perplexity | continuation changed | judge failures |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in table:
        lines.append(
            f"| {t['strength']:g} | {t['n']} | {t['win_lm']:.2f} | {t['relevance']:.3f} | "
            f"{t['win_emb']:.2f} | {t['delta_loglik']:+.3f} | {t['perplexity']:.1f} | "
            f"{t['changed']:.0%} | {t['failures']} |"
        )
    lines += ["", "Topics (top words):", ""] + [f"- {k}: {', '.join(words[k][:8])}" for k in topics]
    example = max(
        rows, key=lambda r: (r.strength == sorted(args.strengths)[len(args.strengths) // 2], r.relevance)
    )
    lines += [
        "",
        f"Example (topic {example.topic}, λ={example.strength:g}):",
        "",
        f"- unsteered: {example.baseline!r}",
        f"- steered: {example.text!r}",
    ]
    Path(f"{stem}.md.tmp").write_text("\n".join(lines) + "\n")
    os.replace(f"{stem}.md.tmp", f"{stem}.md")
    plot(table, Path(f"{stem}.png"), name)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
