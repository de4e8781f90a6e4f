"""Topics and their steering directions for benchmarks/steering_bench.py, and the scales to read λ against.

A source is anything with ``layer`` and ``topic_direction(k)``; each builder returns it with the topics' top
words and documents. Corpora are development corpora only (never 20NG, BBC, M10, DBLP).

Usage:

```python
name, source, words, docs, off = mtm_topics(lm, "mlda", "reuters", 1000, 15, False, subset="random")
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

DocSubset = Literal["first", "random"]


def corpus_subset(corpus: str, n_docs: int, subset: DocSubset = "random", seed: int = 1) -> list[str]:
    """``n_docs`` documents of ``corpus``: its first ones, or a seeded random sample (kept in corpus order).

    The default seed 1 differs from the seed 0 with which benchmarks/mtm_build_sae.py drew the LM SAE's
    training documents, so the two samples are different draws (they may still share documents).
    """
    from bertopic_sae.data import load_corpus

    if subset == "first":
        return list(load_corpus(corpus, limit=n_docs).texts)
    if subset != "random":
        raise ValueError(f"subset={subset!r}: use 'first' or 'random'.")
    texts = list(load_corpus(corpus).texts)
    if n_docs > len(texts):
        raise ValueError(f"{corpus} has {len(texts)} documents, fewer than n_docs={n_docs}.")
    pick = np.sort(np.random.default_rng(seed).choice(len(texts), size=n_docs, replace=False))
    return [texts[i] for i in pick]


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
    """A fitted mechanistic topic model as a steering source: its SAE's layer and ``topic_direction``
    (with the direction options of ``MechanisticTopicModel.topic_direction``)."""

    def __init__(self, model, **options):
        self.model = model
        self.layer = int(model.bundle_.layer)
        self.options = options

    def topic_direction(self, k: int):
        return self.model.topic_direction(k, **self.options)


def mtm_topics(
    lm,
    kind: str,
    corpus: str,
    n_docs: int,
    n_topics: int,
    verbose: bool,
    *,
    subset: DocSubset = "random",
    subset_seed: int = 1,
    lm_sae: str | None = None,
    word_weighting: str = "ctfidf",
    **options,
):
    """mLDA / mBERTopic / mETM on a development corpus: v_k = normalize(sum_i c_ki w_i) at the SAE's layer.

    Documents: :func:`corpus_subset` (``subset``, ``subset_seed``). SAE feature counts (the LM SAE
    ``lm_sae``, default the MTM default; 64 tokens per document) are computed once per corpus, subset and SAE
    and cached on disk; topic words are read over ``bertopic_sae.default_vectorizer`` with
    ``word_weighting`` (default c-TF-IDF: words common to every topic, "said", "mln", do not name all of
    them); each topic's documents for Δℓ are its 4 highest-θ documents, its off-topic documents the
    highest-θ document of 4 other topics. Topics are taken largest first (by θ mass); those holding under
    1% of it (empty LDA topics, whose β is the flat prior) or with no feature weight left are not steered.
    """
    import pickle

    from bertopic_sae._io import atomic_write_bytes
    from bertopic_sae.data import cache_dir
    from bertopic_sae.mtm import METM, MLDA, MBERTopic, featurize, load_lm_sae

    texts = corpus_subset(corpus, n_docs, subset, subset_seed)
    bundle = load_lm_sae(lm_sae) if lm_sae else load_lm_sae()
    sae_name = Path(bundle.folder).name
    pick = "first" if subset == "first" else f"random{subset_seed}"
    stored = cache_dir() / "steering" / f"{corpus}-{pick}-{len(texts)}-64tok-{sae_name}.pkl"
    if subset == "first" and sae_name == "smollm2-135m-instruct-L15":  # session 8's cache name
        stored = cache_dir() / "steering" / f"{corpus}-{len(texts)}-64tok.pkl"
    if stored.exists():
        fc = pickle.loads(stored.read_bytes())
    else:
        fc = featurize(lm, bundle, texts, max_tokens=64, verbose=verbose)
        stored.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(stored, pickle.dumps(fc))
    cls = {"mlda": MLDA, "mbertopic": MBERTopic, "metm": METM}[kind]
    model = cls(
        n_topics,
        sae=bundle,
        lm=lm,
        max_tokens=64,
        word_weighting=word_weighting,
        verbose=verbose,
        random_state=0,
    ).fit(texts, fc)
    theta = np.asarray(model.doc_topic_)
    source = _Directions(model, **options)
    share = theta.sum(0) / theta.sum()
    usable = []
    for k in np.argsort(-share).tolist():
        try:
            source.topic_direction(k)
        except ValueError:
            continue
        if share[k] >= 0.01 and theta[:, k].max() > 0:
            usable.append(k)
    words = {k: [w for w, _ in model.get_topic_words(k, 10)] for k in usable}
    docs = {k: [texts[i] for i in np.argsort(-theta[:, k])[:4]] for k in usable}
    off = {k: [docs[j][0] for j in usable if j != k][:4] for k in usable}
    return f"{kind}-{corpus}", source, words, docs, off


def residual_scale(lm, source, topics, docs) -> dict:
    """Scales to read λ against, over the topic documents' tokens at the layer (sink tokens left out).

    Median residual norm |h|, median component h·v_k, and (when the source has an SAE) the median
    activation of an active SAE feature (its decoder rows have unit norm, so this is the length a typical
    feature adds along its direction).
    """
    import torch

    norms, along, acts = [], [], []
    sae = getattr(getattr(source, "model", None), "bundle_", None)
    for k in topics:
        v = source.topic_direction(k).float()
        for text in docs[k][:2]:
            ids = lm.tokenizer(text, return_tensors="pt", truncation=True, max_length=64).input_ids
            with torch.no_grad():
                h = lm.model(ids.to(lm.device), output_hidden_states=True).hidden_states[source.layer][0]
            h = h.float().cpu()
            n = h.norm(dim=-1)
            h = h[n <= 3 * n.median()]
            norms.append(h.norm(dim=-1))
            along.append(h @ v.cpu())
            if sae is not None:
                with torch.no_grad():
                    a = sae.sae.encode(h).acts
                acts.append(a[a > 0])
    out = {"norm": float(torch.cat(norms).median()), "along": float(torch.cat(along).median())}
    out["feature_act"] = float(torch.cat(acts).median()) if acts else float("nan")
    return out
