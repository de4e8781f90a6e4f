"""The models ``benchmarks/judge_all.py`` judges: word models (OCTIS adapters) and mechanistic topic models.

Word models are fit with ``benchmarks.octis_grid``'s adapters and hyperparameters (overridable per model),
mechanistic ones on ``benchmarks/mtm_grid.py``'s cached SAE feature counts; both fits are cached on disk
under ``cache_dir()/judges`` (atomic writes), so a resumed judge run judges the same fits.

Usage (from ``judge_all``):

```python
corpus, outputs, scores = fit_models("bbc_news", None, 50, ["sae", "lda"], {}, refit=[], verbose=False)
views, mtm_scores = mtm_views("bbc_news", corpus, docs, ["mlda"], 50, n_docs=1000)
```
"""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from pathlib import Path


def fit_models(name: str, n_docs: int | None, k: int, models, configs: dict, refit, verbose: bool):
    """Fit every model on the corpus; returns (corpus, {model: octis output}, {model: OCTIS scores}).

    ``configs`` overrides the OCTIS grid's hyperparameters per model (a non-empty override gets its own
    cache file); models in ``refit`` are fit again even when a cached fit exists (the cache is replaced).
    """
    from bertopic_sae.octis import OctisEvaluator, load_octis_corpus

    from benchmarks.octis_grid import FULL_CONFIG, make_model
    from bertopic_sae.data import cache_dir

    corpus = load_octis_corpus(name)
    if n_docs and n_docs < len(corpus):
        corpus = corpus.subset(n_docs)
    embeddings = corpus.embeddings()
    evaluator = OctisEvaluator(corpus.dataset, labels=corpus.labels)
    outputs, scores = {}, {}
    for model in models:
        start = time.perf_counter()
        config = {**FULL_CONFIG[model], **configs.get(model, {})}
        tag = (
            ""
            if not configs.get(model)
            else "-" + hashlib.sha1(repr(sorted(config.items())).encode()).hexdigest()[:8]
        )
        # fitted outputs are cached, so a resumed run (the comparisons are cached too) does not refit
        stored = cache_dir() / "judges" / f"{name}-{len(corpus)}-k{k}-{model}{tag}-seed0.pkl"
        if stored.exists() and model not in refit:
            outputs[model] = pickle.loads(stored.read_bytes())
        else:
            fitted = make_model(model, k, 0, embeddings, config, verbose)
            outputs[model] = fitted.train_model(corpus.dataset)
            outputs[model]["n_clusters_before_reduction"] = getattr(
                fitted, "n_clusters_before_reduction_", None
            )
            keep = {key: outputs[model][key] for key in ("topics", "topic-document-matrix")}
            _write_pickle(
                stored, keep | {"n_clusters_before_reduction": outputs[model]["n_clusters_before_reduction"]}
            )
        scores[model] = evaluator.score(outputs[model])
        before = outputs[model].get("n_clusters_before_reduction")
        print(
            f"{name} {model}{tag}: fit+score {time.perf_counter() - start:.0f}s "
            f"npmi={scores[model]['npmi']:.3f}"
            f" topics={len(outputs[model]['topics'])}"
            + (f" (clusters before reduction {before})" if before else ""),
            flush=True,
        )
    return corpus, outputs, scores


def _write_pickle(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(value))
    os.replace(tmp, path)


def mtm_views(
    name: str,
    corpus,
    docs,
    kinds,
    k: int,
    n_docs: int,
    max_tokens: int = 128,
    lm=None,
    params: dict | None = None,
):
    """Mechanistic topic models fit on mtm_grid's cached feature counts, applied to the judged documents.

    The counts are those ``benchmarks/mtm_grid.py --docs n_docs --max-tokens max_tokens`` cached (its random
    subset, seed 0); ``params`` = ``{kind: constructor keyword arguments}`` (such a view is named
    ``kind-key=value``). Each fitted view (top words, topic weights of the judged rows) is cached too, so a
    rerun judges the same fit (mETM's is not bit-reproducible run to run). Returns ``(views, {model: OCTIS
    scores})``; a view's rows other than ``docs`` are empty (never judged).
    """
    import numpy as np
    from bertopic_sae.octis import OctisEvaluator
    from sklearn.feature_extraction.text import CountVectorizer

    from benchmarks.mtm_grid import subset
    from bertopic_sae.data import cache_dir
    from bertopic_sae.judges import ModelTopics
    from bertopic_sae.lm import load_causal_lm
    from bertopic_sae.mtm import METM, MLDA, MBERTopic, load_lm_sae

    dataset, texts, _ = subset(name, n_docs)
    bundle = load_lm_sae()
    label = f"{name}[{len(texts)}x{max_tokens}tok]"
    # mtm_grid names its caches with the SAE since the 1000 x 128 run; the older 64-token ones without
    candidates = [cache_dir() / "mtm_grid" / f"{label}-{Path(bundle.folder).name}.pkl"]
    candidates.append(cache_dir() / "mtm_grid" / f"{label}.pkl")
    stored = next((c for c in candidates if c.exists()), None)
    if stored is None:
        raise FileNotFoundError(
            f"{candidates[0]} is missing: run `python benchmarks/mtm_grid.py --docs {n_docs} --max-tokens "
            f"{max_tokens} --features-only` first."
        )
    print(f"{name}: MTM counts from {stored}", flush=True)
    docs_key = hashlib.sha1(repr(list(docs)).encode()).hexdigest()[:8]
    evaluator = OctisEvaluator(corpus.dataset, labels=None)
    fc = lm = vectorizer = word_docs = None
    views, scores = [], {}
    for kind in kinds:
        extra = (params or {}).get(kind, {})
        view_name = "-".join([kind, *(f"{key}={value}" for key, value in sorted(extra.items()))])
        view_path = cache_dir() / "judges" / f"{stored.stem}-k{k}-{view_name}-seed0-docs{docs_key}.pkl"
        if view_path.exists():
            words, rows = pickle.loads(view_path.read_bytes())
        else:
            if fc is None:
                fc = pickle.loads(stored.read_bytes())
                lm = lm or load_causal_lm(verbose=False)
                vocabulary = dataset.get_vocabulary()
                vectorizer = CountVectorizer(vocabulary=vocabulary, token_pattern=r"\S+", lowercase=False)
                word_docs = [" ".join(t) for t in dataset.get_corpus()]
            cls = {"mlda": MLDA, "mbertopic": MBERTopic, "metm": METM}[kind]
            model = cls(
                k,
                sae=bundle,
                lm=lm,
                max_tokens=max_tokens,
                vectorizer=vectorizer,
                random_state=0,
                verbose=False,
                **extra,
            )
            model.fit(word_docs, features=fc)
            words, rows = model.topic_words(10), model.transform([corpus.texts[i] for i in docs])
            _write_pickle(view_path, (words, rows))
        theta = np.zeros((len(corpus), np.shape(rows)[1]))
        theta[list(docs)] = rows
        views.append(ModelTopics(view_name, words, theta))
        scores[view_name] = evaluator.score({"topics": words})
        print(f"{name} {view_name}: {len(words)} topics, npmi={scores[view_name]['npmi']:.3f}", flush=True)
    return views, scores
