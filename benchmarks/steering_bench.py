"""Steering benchmark: steer SmolLM2 towards topics and trade topic relevance against fluency.

Topics and directions (``--model``): a mechanistic topic model (mLDA, mBERTopic, mETM;
``bertopic_sae.mtm``) fit on the first ``--n-docs`` documents of a development corpus (``--corpus``,
default health-news tweets; never a benchmark corpus) with the shipped layer-15 SmolLM2 SAE, steered along
``v_k = normalize(Σ_i β_ki w_i)`` (topic-feature weights × SAE decoder rows) at the SAE's layer; or
(``sae-tm-meandiff``) SAE-TM topics on Reuters with mean-difference residual directions
(``bertopic_sae.judges.MeanDifferenceDirections``). Any source with ``layer`` and ``topic_direction(k)``
plugs in with ``--source module:function`` (a function returning ``(name, source, topic_words,
topic_documents)``).

Grid: topics x ``--strengths`` (λ; ``--mode absolute``: the component along v_k set to λ, ``relative``: to
λ·|h|; 0 = projected out) x neutral prompts, greedy decoding, ``--tokens`` new tokens. Scores per row
(``bertopic_sae.judges.steering_eval``), each a win when the steered continuation beats the unsteered one
on the topic's top 8 words: the SmolLM2 prompt judge (both orders averaged), the SmolLM2 likelihood judge
(log p(topic words | continuation), ``LMLikelihoodJudge``) and the embedding judge; Δℓ of the topic's 4
top documents; perplexity of the continuation under the unsteered LM. The report also gives the median
residual norm and component along v_k of the topic documents' tokens at the layer, to read λ against.
Writes ``results/steering_<name>_<mode>.md/.csv/.png``.

Usage:

```bash
python -m benchmarks.steering_bench --model mlda                 # ~15-30 min on 2 busy cores
python -m benchmarks.steering_bench --model mlda --topics 2 --strengths 0 20 --prompts 1 --tokens 12  # smoke
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


class _Directions:
    """A fitted mechanistic topic model as a steering source: its SAE's layer and ``topic_direction``."""

    def __init__(self, model):
        self.model = model
        self.layer = int(model.bundle_.layer)

    def topic_direction(self, k: int):
        return self.model.topic_direction(k)


def mtm_topics(lm, kind: str, corpus: str, n_docs: int, n_topics: int, verbose: bool):
    """mLDA / mBERTopic / mETM on a development corpus: v_k = normalize(sum_i beta_ki w_i) at the SAE's layer.

    SAE feature counts (the shipped layer-15 SAE, 64 tokens per document) are computed once per corpus and
    cached on disk; topic words are read over ``bertopic_sae.default_vectorizer``; each topic's documents
    for Δℓ are its 4 highest-θ documents.
    """
    import pickle

    from bertopic_sae.data import cache_dir, load_corpus
    from bertopic_sae.mtm import METM, MLDA, MBERTopic, featurize, load_lm_sae

    texts = list(load_corpus(corpus, limit=n_docs).texts)
    bundle = load_lm_sae()
    stored = cache_dir() / "steering" / f"{corpus}-{len(texts)}-64tok.pkl"
    if stored.exists():
        fc = pickle.loads(stored.read_bytes())
    else:
        fc = featurize(lm, bundle, texts, max_tokens=64, verbose=verbose)
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.with_suffix(".tmp").write_bytes(pickle.dumps(fc))
        os.replace(stored.with_suffix(".tmp"), stored)
    cls = {"mlda": MLDA, "mbertopic": MBERTopic, "metm": METM}[kind]
    model = cls(n_topics, sae=bundle, lm=lm, max_tokens=64, verbose=verbose, random_state=0).fit(texts, fc)
    theta = np.asarray(model.doc_topic_)
    found = int(model.topic_feature_.shape[0])
    words = {k: [w for w, _ in model.get_topic_words(k, 10)] for k in range(found)}
    beta = np.asarray(model.topic_feature_)
    # a topic with no document or no feature weight has no direction to steer along: left out
    docs = {
        k: [texts[i] for i in np.argsort(-theta[:, k])[:4]]
        for k in range(found)
        if theta[:, k].max() > 0 and np.abs(beta[k]).sum() > 0
    }
    return f"{kind}-{corpus}", _Directions(model), {k: words[k] for k in docs}, docs


def residual_scale(lm, source, topics, docs) -> tuple[float, float]:
    """Median residual norm and component along v_k over topic documents' tokens (first token left out)."""
    import torch

    norms, along = [], []
    for k in topics:
        v = source.topic_direction(k).float()
        for text in docs[k][:2]:
            ids = lm.tokenizer(text, return_tensors="pt", truncation=True, max_length=64).input_ids
            with torch.no_grad():
                h = lm.model(ids.to(lm.device), output_hidden_states=True).hidden_states[source.layer][0, 1:]
            norms.append(h.float().norm(dim=-1).cpu())
            along.append(h.float().cpu() @ v.cpu())
    return float(torch.cat(norms).median()), float(torch.cat(along).median())


def plot(table: list[dict], path: Path, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for key, label in [
        ("win_lm", "SmolLM2 prompt judge"),
        ("win_pmi", "SmolLM2 likelihood judge"),
        ("win_emb", "embedding judge"),
    ]:
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
    parser.add_argument(
        "--model",
        choices=["sae-tm-meandiff", "mlda", "mbertopic", "metm"],
        default="mlda",
        help="topics and directions: a mechanistic topic model's beta-weighted SAE decoder rows, or SAE-TM "
        "topics with mean-difference directions",
    )
    parser.add_argument("--corpus", default="health_news_tweets", help="development corpus of the MTM topics")
    parser.add_argument("--layer", type=int, default=15)
    parser.add_argument("--n-docs", type=int, default=1000)
    parser.add_argument("--topics", type=int, default=10)
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.0, 10.0, 20.0, 40.0])
    parser.add_argument("--mode", choices=["absolute", "relative"], default="absolute")
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument(
        "--skip-sinks", type=float, default=None, help="leave tokens over this x the median norm unsteered"
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    from bertopic_sae.judges import EmbeddingJudge, LMJudge, LMLikelihoodJudge, steering_sweep, summarize
    from bertopic_sae.lm import load_causal_lm

    lm = load_causal_lm(verbose=False)
    if args.source:
        module, function = args.source.split(":")
        name, source, words, docs = getattr(importlib.import_module(module), function)(lm)
    elif args.model == "sae-tm-meandiff":
        name, source, words, docs = sae_tm_topics(lm, args.n_docs, args.topics, args.layer, args.verbose)
    else:
        name, source, words, docs = mtm_topics(
            lm, args.model, args.corpus, args.n_docs, args.topics, args.verbose
        )
    topics = sorted(words)[: args.topics]
    common = dict(
        topics=topics,
        prompts=PROMPTS[: args.prompts],
        strengths=args.strengths,
        topic_words=words,
        topic_documents=docs,
        mode=args.mode,
        max_new_tokens=args.tokens,
        skip_sinks=args.skip_sinks,
    )
    norm, along = residual_scale(lm, source, topics, docs)
    rows = steering_sweep(lm, source, judge=LMJudge(lm, verbose=False), verbose=True, **common)
    emb, pmi = EmbeddingJudge(), LMLikelihoodJudge(lm)
    emb_rel, pmi_rel = {}, {}
    for r in rows:
        key, topic_words = (r.topic, r.strength, r.prompt), ", ".join(words[r.topic][:8])
        scores = emb.compare(topic_words, [r.text, r.baseline])
        emb_rel[key] = float(scores[0] > scores[1])
        # likelihood judge: log p(topic words | continuation), steered minus unsteered (the prior cancels)
        steered, plain = (pmi.compare(text or ".", [topic_words])[0] for text in (r.text, r.baseline))
        pmi_rel[key] = float(steered > plain)
    table = summarize(rows)
    for t in table:
        keys = [(r.topic, r.strength, r.prompt) for r in rows if r.strength == t["strength"]]
        t["win_lm"] = t.pop("win_rate")
        t["win_emb"] = float(np.mean([emb_rel[k] for k in keys]))
        t["win_pmi"] = float(np.mean([pmi_rel[k] for k in keys]))
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / (f"steering_{name}_{args.mode}" + ("" if args.skip_sinks is None else "_nosinks"))
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
                "win_likelihood",
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
                    pmi_rel[(r.topic, r.strength, r.prompt)],
                    r.text,
                    r.baseline,
                ]
            )
    os.replace(f"{stem}.csv.tmp", f"{stem}.csv")
    sinks = "yes" if args.skip_sinks is None else f"no (norm > {args.skip_sinks:g}x median left alone)"
    lines = [
        f"# Steering SmolLM2-135M-Instruct: {name}",
        "",
        f"Machine: {cpu_cores()} cores {cpu_model()}; {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        f"Layer {source.layer}, {args.mode} strengths, sink tokens steered: "
        f"{sinks}, {len(topics)} topics x {len(common['prompts'])} "
        f"prompts, "
        f"greedy, {args.tokens} new tokens. Written by `python -m benchmarks.steering_bench`. "
        f"Topic documents' tokens at layer {source.layer}: median |h| = {norm:.1f}, "
        f"median h·v_k = {along:+.2f}.",
        "",
        "| λ | rows | win rate (SmolLM2 judge) | mean P(steered more on-topic) | "
        "win rate (likelihood judge) | win rate (embedding judge) | "
        "mean Δℓ (nats/token) | median perplexity | continuation changed | judge failures |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in table:
        lines.append(
            f"| {t['strength']:g} | {t['n']} | {t['win_lm']:.2f} | {t['relevance']:.3f} | "
            f"{t['win_pmi']:.2f} | {t['win_emb']:.2f} | {t['delta_loglik']:+.3f} | {t['perplexity']:.1f} | "
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
