"""What the three mechanistic topic models share: featurising, word readings, steering, save/load.

A subclass learns θ (``doc_topic_``, documents × topics) and β (``topic_feature_``, topics × kept SAE
features) from feature counts; this base class turns them into

* topic words: ``topic_word_[k] ∝ Σ_d θ_dk · bow_d`` over the project's vocabulary
  (:func:`bertopic_sae.default_vectorizer`), optionally re-weighted by BERTopic's c-TF-IDF, so NPMI / C_V /
  TD are computed exactly as for word models;
* topic features and their descriptions;
* steering: ``topic_direction(k) = normalize(Σ_i β_ki w_i)`` (w_i = SAE decoder rows) and
  ``steer(k, strength)``, a context manager from :func:`bertopic_sae.steering.steer` at the SAE's layer.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import NotFittedError

from ..steering import SteeringMode
from ..steering import steer as _steer
from .directions import DirectionWeighting, topic_direction
from .features import FeatureCounts, featurize
from .lmsae import DEFAULT_LM_SAE, LMSAE, load_lm_sae

__all__ = ["MechanisticTopicModel", "load_model", "WordWeighting", "DirectionWeighting"]

WordWeighting = Literal["none", "ctfidf"]
PARAMS_FILE = "mtm_params.json"
ARRAYS_FILE = "mtm_arrays.npz"
_REGISTRY: dict[str, type[MechanisticTopicModel]] = {}


class MechanisticTopicModel:
    """Base class; use :class:`~bertopic_sae.mtm.MLDA`, :class:`~bertopic_sae.mtm.METM` or
    :class:`~bertopic_sae.mtm.MBERTopic`.

    Arguments (shared by every model):
        n_topics: number of topics K.
        sae: a shipped LM-SAE name, a checkpoint folder, or a loaded :class:`~bertopic_sae.mtm.lmsae.LMSAE`.
        lm: the LM (a :class:`bertopic_sae.lm.LanguageModel` or an id); None = the SAE's own LM.
        max_tokens: tokens read per document.
        batch_size: documents per LM forward pass.
        max_firing_rate: density filter on the SAE's training tokens (paper: 0.01).
        max_doc_fraction: drop features present in more than this share of documents (paper: 0.9).
        vectorizer: the word vocabulary for topic words; None = ``default_vectorizer(min_df="auto")``.
        word_weighting: ``"none"`` (θ-weighted word counts) or ``"ctfidf"`` (those counts through
            BERTopic's ``ClassTfidfTransformer``, which down-weights words common to every topic).
        random_state: seed.
        verbose: progress bars.
    """

    kind = "base"

    def __init__(
        self,
        n_topics: int = 20,
        *,
        sae: str | os.PathLike | LMSAE = DEFAULT_LM_SAE,
        lm: Any = None,
        max_tokens: int = 128,
        batch_size: int = 32,
        max_firing_rate: float = 0.01,
        max_doc_fraction: float = 0.9,
        vectorizer: Any = None,
        word_weighting: WordWeighting = "none",
        random_state: int | None = 0,
        verbose: bool = True,
    ):
        self.n_topics = n_topics
        self.sae = sae
        self.lm = lm
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.max_firing_rate = max_firing_rate
        self.max_doc_fraction = max_doc_fraction
        self.vectorizer = vectorizer
        self.word_weighting = word_weighting
        self.random_state = random_state
        self.verbose = verbose

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.kind] = cls

    # ------------------------------------------------------------------ resources
    @property
    def bundle_(self) -> LMSAE:
        """The LM SAE (loaded on first use)."""
        if getattr(self, "_bundle", None) is None:
            self._bundle = self.sae if isinstance(self.sae, LMSAE) else load_lm_sae(self.sae)
        return self._bundle

    @property
    def lm_(self) -> Any:
        """The language model (loaded on first use)."""
        if getattr(self, "_lm", None) is None:
            from ..lm import load_causal_lm

            is_id = self.lm is None or isinstance(self.lm, str)
            self._lm = (
                load_causal_lm(self.lm or self.bundle_.model, verbose=self.verbose) if is_id else self.lm
            )
        return self._lm

    def featurize(self, documents: Sequence[str]) -> FeatureCounts:
        """Feature counts of ``documents`` with this model's LM, SAE and filters."""
        return featurize(
            self.lm_,
            self.bundle_,
            documents,
            max_tokens=self.max_tokens,
            batch_size=self.batch_size,
            max_firing_rate=self.max_firing_rate,
            max_doc_fraction=self.max_doc_fraction,
            mean_acts=self._needs_mean_acts(),
            verbose=self.verbose,
        )

    def _needs_mean_acts(self) -> bool:
        return False

    # ------------------------------------------------------------------ fit / transform
    def _check_params(self, n_docs: int) -> None:
        if not isinstance(self.n_topics, (int, np.integer)) or self.n_topics < 2:
            raise ValueError(f"n_topics must be an integer >= 2, got {self.n_topics!r}.")
        if n_docs < self.n_topics:
            raise ValueError(f"Got {n_docs} documents for n_topics={self.n_topics}; pass more documents.")
        if self.word_weighting not in ("none", "ctfidf"):
            raise ValueError(f"word_weighting must be 'none' or 'ctfidf', got {self.word_weighting!r}.")

    def fit(self, documents: Sequence[str], features: FeatureCounts | None = None) -> MechanisticTopicModel:
        """Fit on ``documents``; pass ``features`` (from :meth:`featurize`) to reuse computed counts.

        Usage:

        ```python
        model = MLDA(n_topics=10).fit(texts)
        model.get_topic_words(0), model.get_topic_features(0)
        ```
        """
        if isinstance(documents, str):
            raise TypeError("documents must be a sequence of texts, got one string; wrap it in a list.")
        self._check_params(len(documents))
        fc = features if features is not None else self.featurize(documents)
        if fc.counts.shape[0] != len(documents):
            raise ValueError(
                f"features has {fc.counts.shape[0]} rows but there are {len(documents)} documents."
            )
        self.features_ = np.asarray(fc.features)
        self.doc_topic_, self.topic_feature_ = self._fit_counts(fc)
        self._fit_words(documents, self.doc_topic_)
        return self

    def fit_transform(self, documents: Sequence[str], features: FeatureCounts | None = None) -> np.ndarray:
        """Fit and return θ of the training documents ``(n_docs, n_topics)``."""
        return self.fit(documents, features).doc_topic_

    def transform(self, documents: Sequence[str], features: FeatureCounts | None = None) -> np.ndarray:
        """θ ``(n_docs, n_topics)`` of new documents (their counts over the fitted features)."""
        self._check_fitted()
        if features is None:
            features = featurize(
                self.lm_,
                self.bundle_,
                documents,
                max_tokens=self.max_tokens,
                batch_size=self.batch_size,
                max_firing_rate=1.0,
                max_doc_fraction=1.0,
                mean_acts=self._needs_mean_acts(),
                verbose=self.verbose,
            )
        if features.counts.shape[0] != len(documents):
            raise ValueError(
                f"features has {features.counts.shape[0]} rows but there are {len(documents)} documents."
            )
        return self._transform_counts(self._align(features))

    def _align(self, fc: FeatureCounts) -> FeatureCounts:
        """``fc`` with columns re-indexed to ``features_`` (unknown features dropped, missing ones zero)."""
        column = {int(f): j for j, f in enumerate(fc.features)}
        take = np.array([column.get(int(f), -1) for f in self.features_])

        def pick(matrix: sp.csr_matrix | None) -> sp.csr_matrix | None:
            if matrix is None:
                return None
            padded = sp.hstack(
                [matrix, sp.csr_matrix((matrix.shape[0], 1), dtype=matrix.dtype)], format="csc"
            )
            return sp.csr_matrix(padded[:, np.where(take < 0, matrix.shape[1], take)])

        counts = pick(fc.counts)
        assert counts is not None
        return fc._replace(
            counts=counts,
            features=self.features_,
            mean_acts=pick(fc.mean_acts),
            n_sae=np.asarray(counts.sum(1)).ravel(),
        )

    def _fit_counts(self, fc: FeatureCounts) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _transform_counts(self, fc: FeatureCounts) -> np.ndarray:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "doc_topic_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(documents) first.")

    def _fit_words(self, documents: Sequence[str], theta: np.ndarray) -> None:
        from sklearn.base import clone

        from .. import default_vectorizer

        vectorizer = (
            clone(self.vectorizer) if self.vectorizer is not None else default_vectorizer(min_df="auto")
        )
        bow = vectorizer.fit_transform(documents)
        self.vocabulary_ = np.asarray(vectorizer.get_feature_names_out(), dtype=str)
        weighted = sp.csr_matrix(np.asarray(theta).T) @ sp.csr_matrix(bow, dtype=np.float64)
        if self.word_weighting == "ctfidf":
            from bertopic.vectorizers import ClassTfidfTransformer

            weighted = ClassTfidfTransformer().fit_transform(sp.csr_matrix(weighted))
        dense = np.asarray(weighted.todense())
        self.topic_word_ = dense / np.clip(dense.sum(1, keepdims=True), 1e-12, None)

    # ------------------------------------------------------------------ reading topics
    def _check_topic(self, topic: int) -> int:
        self._check_fitted()
        if not 0 <= int(topic) < self.topic_feature_.shape[0]:
            raise ValueError(f"topic={topic} is out of range 0..{self.topic_feature_.shape[0] - 1}.")
        return int(topic)

    def get_topic_words(self, topic: int, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` top words of ``topic`` with their weights."""
        row = self.topic_word_[self._check_topic(topic)]
        top = np.argsort(-row)[:n]
        return [(str(self.vocabulary_[j]), float(row[j])) for j in top]

    def get_topic_features(self, topic: int, n: int = 10) -> list[tuple[int, float]]:
        """The ``n`` top SAE features of ``topic`` (SAE feature ids) with their weights β."""
        row = self.topic_feature_[self._check_topic(topic)]
        top = np.argsort(-row)[:n]
        return [(int(self.features_[j]), float(row[j])) for j in top]

    def topic_words(self, n: int = 10) -> list[list[str]]:
        """Top ``n`` words of every topic (the input of NPMI / C_V / TD)."""
        return [[w for w, _ in self.get_topic_words(k, n)] for k in range(self.topic_feature_.shape[0])]

    def describe_topic(self, topic: int, n: int = 5, describer: Any = None) -> list[str]:
        """Labels of the topic's top ``n`` features (see :mod:`bertopic_sae.mtm.descriptions`)."""
        from .descriptions import describe_features

        return describe_features(self.bundle_, [f for f, _ in self.get_topic_features(topic, n)], describer)

    # ------------------------------------------------------------------ steering
    def topic_direction(
        self,
        topic: int,
        *,
        weighting: DirectionWeighting = "beta",
        content_only: bool = False,
        remove_bias: bool = False,
        top_features: int | None = None,
    ) -> torch.Tensor:
        """The topic's unit direction in the residual stream, ``(d_model,)``: ``normalize(Σ_i c_ki w_i)``.

        Arguments:
            topic: topic id.
            weighting: ``"beta"`` (c_ki = β_ki, the paper's) or ``"specific"`` (c_ki = max(β_ki -
                mean_k' β_k'i, 0): a topic's weight beyond the average topic's, so shared features drop out).
            content_only: keep only features whose top firing tokens are words
                (:func:`~bertopic_sae.mtm.descriptions.content_features`), dropping digit, punctuation,
                hashtag and word-piece features.
            remove_bias: project out the SAE's decoder bias direction ``b_dec`` (nearly the mean residual:
                a β-weighted sum of many features points partly along it, and setting that component
                moves every token).
            top_features: keep only this many highest-weight features (fewer features, harder push each).
        """
        return topic_direction(
            self.topic_feature_,
            self.features_,
            self.bundle_,
            self._check_topic(topic),
            weighting=weighting,
            content_only=content_only,
            remove_bias=remove_bias,
            top_features=top_features,
        )

    def steer(
        self,
        topic: int,
        strength: float,
        mode: SteeringMode = "absolute",
        **direction: Any,
    ) -> Any:
        """Context manager steering the LM toward ``topic`` at the SAE's layer.

        Arguments:
            topic: topic id.
            strength: λ (see :func:`bertopic_sae.steering.steer`).
            mode: ``"absolute"`` or ``"relative"`` to the token's norm.
            **direction: options of :meth:`topic_direction` (``weighting``, ``content_only``,
                ``remove_bias``, ``top_features``) and of :func:`~bertopic_sae.steering.steer`
                (``skip_sinks``, ``replace``, ``positions``).

        Usage:

        ```python
        with model.steer(topic=3, strength=25.0, weighting="specific", content_only=True, skip_sinks=3.0):
            out = model.lm_.model.generate(ids, max_new_tokens=30)
        ```
        """
        names = ("weighting", "content_only", "remove_bias", "top_features")
        of_direction = {k: direction.pop(k) for k in names if k in direction}
        return _steer(
            self.lm_.model,
            self.bundle_.layer,
            self.topic_direction(topic, **of_direction),
            strength,
            mode=mode,
            **direction,
        )

    # ------------------------------------------------------------------ persistence
    def _params(self) -> dict:
        sae = self.sae.folder if isinstance(self.sae, LMSAE) else str(self.sae)
        lm = self.lm.name if hasattr(self.lm, "name") else self.lm
        skip = {"sae", "lm", "vectorizer", "verbose"}
        return {
            "sae": sae,
            "lm": lm,
            **{
                k: v
                for k, v in vars(self).items()
                if not k.endswith("_") and k not in skip and not k.startswith("_")
            },
        }

    def _save_state(self, folder: Path) -> None:
        """Subclasses write their own fitted state (a tomotopy file, torch weights...)."""

    def _load_state(self, folder: Path) -> None:
        """Subclasses read what :meth:`_save_state` wrote."""

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model into folder ``path`` atomically (an existing model folder is replaced;
        any other existing path is refused)."""
        self._check_fitted()
        target = Path(path)
        if target.exists() and not (target / PARAMS_FILE).exists():
            raise FileExistsError(f"{target} exists and is not a saved topic model; pass a new folder.")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            (staging / PARAMS_FILE).write_text(
                json.dumps({"kind": self.kind, "params": self._params()}, indent=2)
            )
            np.savez(
                staging / ARRAYS_FILE,
                features_=self.features_,
                doc_topic_=self.doc_topic_,
                topic_feature_=self.topic_feature_,
                topic_word_=self.topic_word_,
                vocabulary_=self.vocabulary_,
            )
            self._save_state(staging)
            os.chmod(staging, 0o755)
            backup = target.with_name(f".{target.name}.old-{os.getpid()}") if target.exists() else None
            if backup is not None:
                os.replace(target, backup)
            os.replace(staging, target)
            if backup is not None:
                shutil.rmtree(backup, ignore_errors=True)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike, *, lm: Any = None) -> MechanisticTopicModel:
        """Load a model written by :meth:`save` (``lm``: an already loaded LM to reuse)."""
        folder = Path(path)
        if not (folder / PARAMS_FILE).exists():
            raise FileNotFoundError(
                f"{folder} has no {PARAMS_FILE}; it is not a saved mechanistic topic model."
            )
        saved = json.loads((folder / PARAMS_FILE).read_text())
        from . import mbertopic, metm, mlda  # noqa: F401  (registers the model classes)

        klass = _REGISTRY.get(saved["kind"])
        if klass is None or not issubclass(klass, cls):
            raise ValueError(f"{folder} holds a {saved['kind']!r} model, not a {cls.kind!r} one.")
        params = dict(saved["params"])
        n_topics = params.pop("n_topics")
        model = klass(n_topics, **params)
        if lm is not None:
            model._lm = lm
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as arrays:
            for name in arrays.files:
                setattr(model, name, arrays[name])
        model._load_state(folder)
        return model


def load_model(path: str | os.PathLike, *, lm: Any = None) -> MechanisticTopicModel:
    """Load any saved mechanistic topic model (mLDA, mETM or mBERTopic)."""
    return MechanisticTopicModel.load(path, lm=lm)
