"""Steering benchmark: steer SmolLM2 towards topics and trade topic relevance against fluency.

Topics and directions (``--models``): mechanistic topic models (mLDA, mBERTopic, mETM; ``bertopic_sae.mtm``)
fit on ``--n-docs`` random (``--subset-seed``; ``--subset first``: the first) documents of a development
corpus (``--corpus``, default health-news tweets; never a benchmark corpus) with a layer-15 SmolLM2 SAE
(``--lm-sae``, default the MTM default; topics and directions: benchmarks/steering_sources.py), steered along
``v_k = normalize(Σ_i c_ki w_i)`` (SAE decoder rows w_i) at the SAE's layer, c_ki = β_ki (the paper) or
cleaned (``--weighting specific --content-only --remove-bias --top-features N``, see
``MechanisticTopicModel.topic_direction``); or (``sae-tm-meandiff``) SAE-TM topics on Reuters with
mean-difference residual directions. Any source with ``layer`` and ``topic_direction(k)`` plugs in with
``--source module:function`` (a function returning ``(name, source, topic_words, topic_documents)``).

Grid: the ``--topics`` largest topics x ``--strengths`` (λ) x neutral prompts, greedy or seeded sampling
(``--sample``), ``--tokens`` new tokens. The intervention (``bertopic_sae.steering.steer``): the component
along v_k set to λ (default; ``--mode relative``: to λ·|h|) or λ v_k added (``--add``), at every position
or at the generated ones only (``--positions new``), sink tokens optionally left alone (``--skip-sinks``).
Scores per row (``bertopic_sae.judges.steering_eval``; a win when the steered continuation beats the
unsteered one on the topic's top 8 words, ties half): the SmolLM2 likelihood judge (log p(topic words |
continuation), ``LMLikelihoodJudge``), the embedding judge and, with ``--prompt-judge``, the SmolLM2 A/B
prompt judge; Δℓ on the topic's 4 top documents and on 4 other topics' documents (every position steered);
perplexity of the continuation under the unsteered LM. The report gives the scales to read λ against
(median |h|, h·v_k and active SAE feature activation). Writes
``results/steering_<corpus>[-random<seed>]_<variant><tag>.md/.csv/.png`` (the plot: relevance against
perplexity).

Usage:

```bash
python -m benchmarks.steering_bench --models mlda mbertopic --strengths 0 50 100 150 --sample \
    --skip-sinks 3 --add --weighting specific --content-only --remove-bias --top-features 3 --positions new
python -m benchmarks.steering_bench --models mlda --topics 2 --strengths 0 20 --prompts 1 --tokens 12  # smoke
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
from benchmarks.steering_sources import mtm_topics, residual_scale, sae_tm_topics

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = Path(__file__).resolve().parent / "results"
PROMPTS = [
    "Write a few sentences about anything you like.",
    "Tell me about your day.",
    "Continue the story: It was a quiet morning when",
    "What should I know?",
]


def plot(tables: dict[str, list[dict]], path: Path, title: str) -> None:
    """Relevance (likelihood-judge win rate; Δℓ on minus off topic) against perplexity, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for name, table in tables.items():
        x = [t["perplexity"] for t in table]
        for ax, key in zip(axes, ("win_pmi", "delta_contrast"), strict=True):
            ax.plot(x, [t[key] for t in table], marker="o", label=name)
            for t in table:
                ax.annotate(f"{t['strength']:g}", (t["perplexity"], t[key]), fontsize=7)
    axes[0].axhline(0.5, color="grey", lw=0.5)
    axes[1].axhline(0.0, color="grey", lw=0.5)
    axes[0].set_ylabel("likelihood-judge win rate vs unsteered")
    axes[1].set_ylabel("Δℓ on-topic − Δℓ off-topic (nats/token)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("median perplexity of the continuation (unsteered LM)")
        ax.legend(fontsize=8)
    fig.suptitle(title + " (labels: λ)", fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)


def _win(steered: float, plain: float) -> float:
    """1 when the steered continuation scores higher, 0 when lower, 0.5 on a tie (e.g. unchanged text)."""
    return float(np.sign(steered - plain) / 2 + 0.5)


def score_rows(rows, words, lm, prompt_judge: bool) -> list[dict]:
    """Per row: likelihood-judge and embedding-judge wins (steered vs unsteered continuation)."""
    from bertopic_sae.judges import EmbeddingJudge, LMLikelihoodJudge

    emb, pmi = EmbeddingJudge(), LMLikelihoodJudge(lm)
    out = []
    for r in rows:
        topic_words = ", ".join(words[r.topic][:8])
        scores = emb.compare(topic_words, [r.text, r.baseline])
        # likelihood judge: log p(topic words | continuation), steered minus unsteered (the prior cancels)
        steered, plain = (pmi.compare(text or ".", [topic_words])[0] for text in (r.text, r.baseline))
        out.append(
            {
                "win_emb": _win(scores[0], scores[1]),
                "win_pmi": _win(steered, plain),
                "pmi_gain": float(steered - plain),
            }
        )
    return out


def summary(rows, scores) -> list[dict]:
    from bertopic_sae.judges import summarize

    table = summarize(rows)
    for t in table:
        mine = [sc for r, sc in zip(rows, scores, strict=True) if r.strength == t["strength"]]
        t["win_lm"] = t.pop("win_rate")
        for key in ("win_emb", "win_pmi", "pmi_gain"):
            t[key] = float(np.mean([sc[key] for sc in mine]))
        t["delta_contrast"] = t["delta_loglik"] - t["delta_loglik_off"]
    return table


COLUMNS = [
    "model",
    "topic",
    "strength",
    "prompt",
    "perplexity",
    "delta_loglik",
    "delta_loglik_off",
    "relevance_lm",
    "win_embedding",
    "win_likelihood",
    "pmi_gain",
    "text",
    "baseline",
]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--source", help="module:function returning (name, source, topic_words, topic_documents)"
    )
    parser.add_argument(
        "--models",
        "--model",
        nargs="+",
        choices=["sae-tm-meandiff", "mlda", "mbertopic", "metm"],
        default=["mlda"],
        help="topics and directions: mechanistic topic models' SAE decoder rows, or SAE-TM topics with "
        "mean-difference directions",
    )
    parser.add_argument("--corpus", default="health_news_tweets", help="development corpus of the MTM topics")
    parser.add_argument("--layer", type=int, default=15)
    parser.add_argument("--n-docs", type=int, default=1000)
    parser.add_argument(
        "--subset",
        choices=["first", "random"],
        default="random",
        help="the corpus's first or random documents",
    )
    parser.add_argument("--subset-seed", type=int, default=1, help="seed of the random subset")
    parser.add_argument(
        "--word-weighting", choices=["none", "ctfidf"], default="ctfidf", help="topic words of the MTMs"
    )
    parser.add_argument("--lm-sae", default=None, help="LM SAE name or folder (default: the MTM default)")
    parser.add_argument("--n-topics", type=int, default=10, help="K of the topic models")
    parser.add_argument("--topics", type=int, default=10, help="topics steered (the first usable ones)")
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.0, 10.0, 20.0, 40.0])
    parser.add_argument("--mode", choices=["absolute", "relative"], default="absolute")
    parser.add_argument("--add", action="store_true", help="h + λv instead of setting the component to λ")
    parser.add_argument(
        "--positions",
        choices=["all", "new"],
        default="all",
        help="steer every position, or only the generated ones",
    )
    parser.add_argument("--weighting", choices=["beta", "specific"], default="beta")
    parser.add_argument("--content-only", action="store_true", help="directions from word features only")
    parser.add_argument("--remove-bias", action="store_true", help="project the SAE's b_dec out of v_k")
    parser.add_argument("--top-features", type=int, default=None, help="keep only the n heaviest features")
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument(
        "--sample", action="store_true", help="seeded sampling (T 0.8, top-p 0.95), not greedy"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt-judge", action="store_true", help="also ask the SmolLM2 A/B prompt judge")
    parser.add_argument(
        "--skip-sinks", type=float, default=None, help="leave tokens over this x the median norm unsteered"
    )
    parser.add_argument("--tag", default="", help="suffix of the result files")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    from bertopic_sae.judges import EmbeddingJudge, LMJudge, steering_sweep
    from bertopic_sae.lm import load_causal_lm

    lm = load_causal_lm(verbose=False)
    options = {
        "weighting": args.weighting,
        "content_only": args.content_only,
        "remove_bias": args.remove_bias,
        "top_features": args.top_features,
    }
    all_rows, tables, notes = [], {}, []
    sae_folder = ""
    for kind in ["custom"] if args.source else args.models:
        off = None
        if args.source:
            module, function = args.source.split(":")
            name, source, words, docs = getattr(importlib.import_module(module), function)(lm)
        elif kind == "sae-tm-meandiff":
            name, source, words, docs = sae_tm_topics(
                lm, args.n_docs, args.n_topics, args.layer, args.verbose
            )
        else:
            name, source, words, docs, off = mtm_topics(
                lm,
                kind,
                args.corpus,
                args.n_docs,
                args.n_topics,
                args.verbose,
                subset=args.subset,
                subset_seed=args.subset_seed,
                lm_sae=args.lm_sae,
                word_weighting=args.word_weighting,
                **options,
            )
            sae_folder = source.model.bundle_.folder
        topics = list(words)[: args.topics]  # largest first
        if not topics:
            notes.append(f"- {name}: no topic with a usable direction; not steered.")
            continue
        scale = residual_scale(lm, source, topics, docs)
        judge = LMJudge(lm, verbose=False) if args.prompt_judge else EmbeddingJudge()
        rows = steering_sweep(
            lm,
            source,
            topics=topics,
            prompts=PROMPTS[: args.prompts],
            strengths=args.strengths,
            topic_words=words,
            topic_documents=docs,
            off_topic_documents=off,
            judge=judge,
            mode=args.mode,
            max_new_tokens=args.tokens,
            do_sample=args.sample,
            seed=args.seed,
            skip_sinks=args.skip_sinks,
            replace=not args.add,
            positions=args.positions,
            verbose=True,
        )
        scores = score_rows(rows, words, lm, args.prompt_judge)
        tables[name] = summary(rows, scores)
        all_rows += [(name, r, sc) for r, sc in zip(rows, scores, strict=True)]
        notes.append(
            f"- {name}: {len(topics)} topics steered; layer-{source.layer} tokens of its topic documents: "
            f"median |h| = {scale['norm']:.1f}, median h·v_k = {scale['along']:+.1f}, median active SAE "
            f"feature activation = {scale['feature_act']:.1f}. Topics: "
            + "; ".join(f"{k}: {', '.join(words[k][:6])}" for k in topics)
        )
        example = max(
            rows,
            key=lambda r: (
                r.strength == sorted(args.strengths)[len(args.strengths) // 2],
                scores[rows.index(r)]["pmi_gain"],
            ),
        )
        notes.append(
            f"  Example (topic {example.topic}, λ = {example.strength:g}): unsteered "
            f"{example.baseline[:160]!r} → steered {example.text[:160]!r}"
        )
        # after every model: a cut-short run keeps its models
        write_results(args, all_rows, tables, notes, sae_folder)


def write_results(args, all_rows, tables, notes, sae_folder: str = "") -> None:
    from bertopic_sae._io import atomic_write_text

    RESULTS.mkdir(exist_ok=True)
    variant = "-".join(
        [args.mode, "add" if args.add else "set", args.weighting]
        + (["content"] if args.content_only else [])
        + (["nobias"] if args.remove_bias else [])
        + ([f"top{args.top_features}"] if args.top_features else [])
        + (["newpos"] if args.positions == "new" else [])
        + ([] if args.skip_sinks is None else ["nosinks"])
    )
    subset = "" if args.subset == "first" else f"-random{args.subset_seed}"
    stem = RESULTS / f"steering_{args.corpus}{subset}_{variant}{args.tag}"
    with open(f"{stem}.csv.tmp", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for name, r, sc in all_rows:
            writer.writerow(
                [
                    name,
                    r.topic,
                    r.strength,
                    r.prompt,
                    f"{r.perplexity:.2f}",
                    f"{r.delta_loglik:.4f}",
                    f"{r.delta_loglik_off:.4f}",
                    f"{r.relevance:.3f}",
                    sc["win_emb"],
                    sc["win_pmi"],
                    f"{sc['pmi_gain']:.4f}",
                    r.text,
                    r.baseline,
                ]
            )
    os.replace(f"{stem}.csv.tmp", f"{stem}.csv")
    sinks = "yes" if args.skip_sinks is None else f"no (norm > {args.skip_sinks:g}x median left alone)"
    decoding = f"seeded sampling (seed {args.seed})" if args.sample else "greedy"
    lines = [
        f"# Steering SmolLM2-135M-Instruct along topic directions ({args.corpus}, {variant})",
        "",
        f"Machine: {cpu_cores()} cores {cpu_model()}; {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        f"Written by `python -m benchmarks.steering_bench`. {args.mode} λ, "
        f"{'added (h + λv)' if args.add else 'set (h − (h·v)v + λv)'}, positions steered in generation: "
        f"{args.positions}; sink tokens steered: {sinks}; direction weights: {args.weighting}"
        f"{', word features only' if args.content_only else ''}"
        f"{', b_dec projected out' if args.remove_bias else ''}"
        f"{f', the {args.top_features} heaviest features only' if args.top_features else ''}; "
        f"{args.prompts} prompts, {decoding}, "
        f"{args.tokens} new tokens; K = {args.n_topics} on "
        + (
            f"the first {args.n_docs}"
            if args.subset == "first"
            else f"{args.n_docs} random (seed {args.subset_seed})"
        )
        + f" documents; LM SAE: {Path(sae_folder).name or 'n/a'}; topic words: {args.word_weighting}.",
        "",
        "| model | λ | rows | win rate (likelihood judge) | mean PMI gain | win rate (embedding judge) | "
        + ("win rate (SmolLM2 prompt judge) | " if args.prompt_judge else "")
        + "Δℓ on-topic | Δℓ off-topic | on − off | median perplexity | changed |",
        "|---|---|---|---|---|---|" + ("---|" if args.prompt_judge else "") + "---|---|---|---|---|",
    ]
    for name, table in tables.items():
        for t in table:
            lines.append(
                f"| {name} | {t['strength']:g} | {t['n']} | {t['win_pmi']:.2f} | {t['pmi_gain']:+.3f} | "
                f"{t['win_emb']:.2f} | "
                + (f"{t['win_lm']:.2f} | " if args.prompt_judge else "")
                + f"{t['delta_loglik']:+.3f} | {t['delta_loglik_off']:+.3f} | {t['delta_contrast']:+.3f} | "
                f"{t['perplexity']:.1f} | {t['changed']:.0%} |"
            )
    lines += ["", *notes]
    atomic_write_text(Path(f"{stem}.md"), "\n".join(lines) + "\n")
    if tables:
        plot(tables, Path(f"{stem}.png"), f"{args.corpus}, {variant}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
