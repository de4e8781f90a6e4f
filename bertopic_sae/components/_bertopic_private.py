"""Every private part of BERTopic that :class:`bertopic_sae.BERTopic` overrides, calls or imports.

BERTopic's public slots (``umap_model``, ``hdbscan_model``, ``ctfidf_model``, ``representation_model``)
carry the SAE pipeline as far as they can; what remains is listed here with the reason.
:func:`check_bertopic` verifies that each still exists with the arguments this package passes, and
``tests/test_bertopic_private.py`` runs it, so an upgrade of BERTopic that breaks one fails loudly.
"""

from __future__ import annotations

import inspect

from bertopic import BERTopic as _BERTopic
from bertopic._bertopic import TopicMapper
from bertopic._utils import check_documents_type, check_is_fitted
from bertopic.vectorizers import ClassTfidfTransformer

__all__ = [
    "OVERRIDDEN",
    "CALLED",
    "IMPORTED",
    "AlreadyFitted",
    "TopicMapper",
    "check_documents_type",
    "check_is_fitted",
    "check_bertopic",
]

OVERRIDDEN: dict[str, tuple[tuple[str, ...], str]] = {
    "_cluster_embeddings": (
        ("umap_embeddings", "documents", "partial_fit", "y"),
        "The merge needs the documents' words, which BERTopic does not hand the clustering slot: here the "
        "stages are fitted (SAE, bag of words, emission model) and passed to the merger.",
    ),
    "_c_tf_idf": (
        ("documents_per_topic", "fit", "partial_fit"),
        "BERTopic refits the vectorizer on per-topic concatenations; topic words must come from the emission "
        "model over the vocabulary it was fitted on, with the atoms' and documents' topics.",
    ),
    "_reduce_dimensionality": (
        ("embeddings", "y", "partial_fit"),
        "SAEEncoder needs the embedding model's name to find a shipped SAE (BERTopic's fit passes none), and "
        "the merger's centroid assignment needs the embeddings themselves, not only the codes.",
    ),
    "_save_representative_docs": (
        ("documents",),
        "Representative documents are those the topic's atoms explain best (one sparse product), not a "
        "re-vectorised c-TF-IDF similarity.",
    ),
}
"""Private methods overridden: name -> (parameters they must accept, reason)."""

CALLED: dict[str, tuple[tuple[str, ...], str]] = {
    "_preprocess_text": (("documents",), "the same text cleaning BERTopic applies before its vectorizer"),
    "_extract_embeddings": (
        ("documents", "images", "method", "verbose"),
        "embed documents / vocabulary words with BERTopic's embedding backend",
    ),
    "_map_predictions": (("predictions",), "map raw merger labels to BERTopic's current topic ids"),
    "_map_probabilities": (("probabilities", "original_topics"), "map the topic distribution the same way"),
    "_update_topic_size": (("documents",), "set_n_topics and from_fitted merge outside BERTopic's fit"),
    "_sort_mappings_by_frequency": (("documents",), "set_n_topics: number topics by size as BERTopic does"),
    "_extract_topics": (("documents", "embeddings", "verbose"), "set_n_topics: recompute topic words"),
}
"""Private methods called: name -> (parameters passed, reason)."""

IMPORTED = {
    "bertopic._bertopic.TopicMapper": "set_n_topics starts a fresh topic mapping, as fit does",
    "bertopic._utils.check_documents_type": "the same document check as BERTopic's fit",
    "bertopic._utils.check_is_fitted": "the same not-fitted error as BERTopic's transform",
    "bertopic.backend._utils.select_backend": (
        "BERTopic.from_fitted wraps the embedding model as fit_transform does"
    ),
    "ClassTfidfTransformer._idf_diag": (
        "EmissionTopicWords sets it so single-document rows (approximate_distribution, representative "
        "documents) use the emission fit's IDF weights"
    ),
    "BERTopic.hdbscan_model swap (AlreadyFitted)": (
        "_cluster_embeddings fits the merger first, then lets BERTopic's own bookkeeping run without fitting "
        "it again"
    ),
    "BERTopic.load + __class__ swap": (
        "BERTopic.load builds a stock BERTopic; its class is set to ours before the SAE parts are attached"
    ),
}
"""Other private names and tricks, with the reason."""


class AlreadyFitted:
    """Stands in for the merger during BERTopic's clustering step, so the merger is not fitted twice."""

    def __init__(self, merger):
        self.labels_ = merger.labels_
        self.probabilities_ = merger.probabilities_

    def fit(self, X, y=None):
        return self

    def partial_fit(self, X, y=None):  # the first online batch: keep the fit's labels (every topic used)
        return self


def check_bertopic() -> None:
    """Raise ``RuntimeError`` naming every private BERTopic part above that is missing or changed."""
    problems = []
    for name, (parameters, _) in {**OVERRIDDEN, **CALLED}.items():
        method = getattr(_BERTopic, name, None)
        if method is None:
            problems.append(f"BERTopic.{name} no longer exists")
            continue
        accepted = set(inspect.signature(method).parameters)
        missing = [p for p in parameters if p not in accepted]
        if missing:
            problems.append(f"BERTopic.{name} no longer takes {missing}")
    if "_idf_diag" not in inspect.getsource(ClassTfidfTransformer):
        problems.append("ClassTfidfTransformer no longer uses _idf_diag")
    if "self.hdbscan_model.fit(" not in inspect.getsource(_BERTopic._cluster_embeddings):
        problems.append("BERTopic._cluster_embeddings no longer calls hdbscan_model.fit (AlreadyFitted swap)")
    if problems:
        import bertopic

        raise RuntimeError(
            f"bertopic {bertopic.__version__} changed private parts bertopic_sae relies on: "
            + "; ".join(problems)
            + ". See bertopic_sae/components/_bertopic_private.py; pin bertopic<0.18 until it is updated."
        )
