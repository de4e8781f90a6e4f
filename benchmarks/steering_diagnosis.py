"""Why MTM steering barely moves SmolLM2: the scales λ must be read against, and what the directions hold.

On the steering benchmark's topics (mLDA, K = 15, the first 1,000 health-news tweets, the shipped layer-15
SmolLM2 SAE; a development corpus) this measures, at the SAE's layer:

* the residual norm |h| of ordinary tokens and of attention sinks (tokens over 3x the median norm);
* the activation of an active SAE feature (decoder rows have unit norm, so this is how far one feature
  moves h along its direction) and the decoder bias b_dec against the mean residual;
* per topic: h·v_k on its documents' tokens, cos(v_k, b_dec) and the share of the direction's weight on
  word (content) features, for the paper's β-weighted direction and for the cleaned one
  (``weighting="specific", content_only=True, remove_bias=True``), with the top features' descriptions;
* single content features as steering directions (``h + λ w_i``, greedy): does any λ make the LM talk
  about the feature's words?

Writes ``results/steering_diagnosis.md``.

Usage:

```bash
python -m benchmarks.steering_diagnosis          # ~2 min on 2 busy cores
```
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

import numpy as np

from benchmarks._machine import cpu_cores, cpu_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = Path(__file__).resolve().parent / "results"
FEATURES = {558: "health", 105: "Ebola/HIV/virus", 2053: "exercise/workout", 922: "Donald/Trump"}
"""Single content features tried as steering directions (ids in the shipped SAE) and their top tokens."""
PROMPT = "Write a few sentences about anything you like."


def residuals(lm, texts, layer: int):
    """Layer-``layer`` residuals of ``texts`` (64 tokens each), split into ordinary tokens and sinks."""
    import torch

    rows = []
    for text in texts:
        ids = lm.tokenizer(text, return_tensors="pt", truncation=True, max_length=64).input_ids
        with torch.no_grad():
            rows.append(lm.model(ids, output_hidden_states=True).hidden_states[layer][0].float())
    h = torch.cat(rows)
    norms = h.norm(dim=-1)
    sink = norms > 3 * norms.median()
    return h[~sink], norms[sink]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=40, help="topic documents read for the scales")
    args = parser.parse_args(argv)

    import torch

    from benchmarks.steering_bench import mtm_topics
    from bertopic_sae._io import atomic_write_text
    from bertopic_sae.lm import load_causal_lm
    from bertopic_sae.mtm.descriptions import content_features, describe_features
    from bertopic_sae.steering import steer

    lm = load_causal_lm(verbose=False)
    name, source, words, docs, _ = mtm_topics(lm, "mlda", "health_news_tweets", 1000, 15, verbose=False)
    model, bundle = source.model, source.model.bundle_
    texts = [t for k in words for t in docs[k]][: args.docs]
    h, sink_norms = residuals(lm, texts, bundle.layer)
    sae = bundle.sae
    acts = sae.encode(h).acts.detach()
    active = acts[acts > 0]
    bias = sae.b_dec.detach().float()
    unit_bias = bias / bias.norm()
    cos_mean = float(torch.nn.functional.cosine_similarity(h.mean(0), bias, dim=0))
    lines = [
        "# Steering diagnosis: scales and directions (mLDA, health-news tweets, SmolLM2 layer 15)",
        "",
        f"Machine: {cpu_cores()} cores {cpu_model()}; {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        f"Written by `python -m benchmarks.steering_diagnosis`. {len(texts)} topic documents, "
        f"{h.shape[0]} ordinary tokens, {len(sink_norms)} sink tokens.",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| median |h|, ordinary tokens | {float(h.norm(dim=-1).median()):.1f} |",
        f"| median |h|, sink tokens (> 3x median) | {float(sink_norms.median()):.0f} |",
        f"| active SAE features per token | {float((acts > 0).sum(1).float().mean()):.1f} |",
        f"| activation of an active feature: median / 90th percentile / max | "
        f"{float(active.median()):.1f} / {float(active.quantile(0.9)):.1f} / {float(active.max()):.1f} |",
        f"| decoder row norm (median) | {float(sae.W_dec.detach().norm(dim=1).median()):.3f} |",
        f"| |b_dec|, cos(b_dec, mean residual) | {float(bias.norm()):.1f}, {cos_mean:.2f} |",
        "",
        "Per steered topic (largest first): the paper's direction (β) and the cleaned one (specific weights, "
        "word features only, b_dec projected out). h·v: median over the topic's 4 documents' tokens; "
        "content share: the share of the direction's feature weights on word features.",
        "",
        "| topic | share of θ | h·v (β) | cos(v, b_dec) (β) | content share (β) | h·v (cleaned) | "
        "top features by β (content: *) |",
        "|---|---|---|---|---|---|---|",
    ]
    theta = np.asarray(model.doc_topic_)
    share = theta.sum(0) / theta.sum()
    content = content_features(bundle, model.features_)
    clean = {"weighting": "specific", "content_only": True, "remove_bias": True}
    for k in words:
        hk, _ = residuals(lm, docs[k], bundle.layer)
        v_beta = model.topic_direction(k)
        try:
            v_clean = model.topic_direction(k, **clean)
        except ValueError:  # no word feature beyond the average topic's weight: no cleaned direction
            v_clean = None
        beta = np.asarray(model.topic_feature_[k])
        top = [f for f, _ in model.get_topic_features(k, 5)]
        labels = describe_features(bundle, top)
        flags = dict(zip(model.features_.tolist(), content.tolist(), strict=True))
        shown = ", ".join(f"{f} {lab}{'*' if flags[f] else ''}" for f, lab in zip(top, labels, strict=True))
        along_beta = float((hk @ v_beta).median())
        along_clean = f"{float((hk @ v_clean).median()):+.1f}" if v_clean is not None else "none"
        lines.append(
            f"| {k} | {share[k]:.3f} | {along_beta:+.1f} | {float(v_beta @ unit_bias):+.2f} | "
            f"{beta[content].sum() / beta.sum():.2f} | {along_clean} | {shown} |"
        )
    lines += [
        "",
        f"Single content features as directions (`steer(..., replace=False, skip_sinks=3)`, greedy, 24 "
        f"tokens; prompt {PROMPT!r}). Unsteered: {lm.generate(PROMPT, 24)!r}",
        "",
        "| feature (top tokens) | λ | continuation |",
        "|---|---|---|",
    ]
    decoder = sae.W_dec.detach().float()
    for feature, label in FEATURES.items():
        for strength in (25.0, 50.0, 100.0):
            with steer(lm.model, bundle.layer, decoder[feature], strength, replace=False, skip_sinks=3.0):
                text = lm.generate(PROMPT, 24)
            lines.append(f"| {feature} ({label}) | {strength:g} | {text[:120]!r} |".replace("\n", " "))
    RESULTS.mkdir(exist_ok=True)
    atomic_write_text(RESULTS / "steering_diagnosis.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
