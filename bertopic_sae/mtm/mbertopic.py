"""mBERTopic: BERTopic on documents embedded by their SAE features (Mechanistic Topic Models, §4.2.3).

Document embedding ``ẽ_d = (1/N_tok) Σ_i c[d, i] w_i`` (eq. 14, w_i = the SAE decoder direction of
feature i); ``embedding="mean"`` uses the reference code's default instead, the mean continuous
activations ``(1/N_tok) Σ_j α(a_dj)`` times the decoder. Then the real ``bertopic.BERTopic`` clusters them
(UMAP n_neighbors 15, 5 components, min_dist 0, cosine; HDBSCAN with ``min_topic_size``) and its c-TF-IDF
runs over the features: each document is shown to BERTopic's vectorizer as the string of its feature
tokens ``f<id>`` repeated by count, so ``visualize_barchart`` and the other plots work on features.

θ is the hard assignment (one-hot over the topics BERTopic found; outliers get a zero row).

Usage:

```python
from bertopic_sae.mtm import MBERTopic
model = MBERTopic(n_topics=10, min_topic_size=5).fit(texts)
model.bertopic_.visualize_barchart()
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from .base import MechanisticTopicModel
from .features import FeatureCounts

__all__ = ["MBERTopic"]

_BERTOPIC_FILE = "bertopic.pickle"


def _feature_strings(fc: FeatureCounts) -> list[str]:
    counts = fc.counts.tocsr()
    docs = []
    for row in range(counts.shape[0]):
        start, end = counts.indptr[row], counts.indptr[row + 1]
        docs.append(
            " ".join(
                " ".join([f"f{int(fc.features[j])}"] * int(c))
                for j, c in zip(counts.indices[start:end], counts.data[start:end], strict=True)
            )
            or "none"
        )
    return docs


class MBERTopic(MechanisticTopicModel):
    """BERTopic over SAE-feature document embeddings, with c-TF-IDF over features.

    Arguments:
        n_topics: ``nr_topics`` passed to BERTopic (HDBSCAN topics are reduced to it; like the reference,
            the outlier topic -1 counts as one).
        embedding: ``"counts"`` (eq. 14) or ``"mean"`` (mean continuous activations, the reference default).
        min_topic_size: HDBSCAN's smallest cluster (the reference: 10).
        **kwargs: shared arguments of :class:`~bertopic_sae.mtm.base.MechanisticTopicModel`.

    Attributes:
        bertopic_: the fitted ``bertopic.BERTopic`` (its "words" are feature tokens ``f<id>``).
        topic_ids_: BERTopic topic id of each row of ``topic_feature_`` (outlier topic excluded).
        doc_topic_, topic_feature_, features_, topic_word_: see the base class.
    """

    kind = "mbertopic"

    def __init__(
        self,
        n_topics: int = 20,
        *,
        embedding: Literal["counts", "mean"] = "counts",
        min_topic_size: int = 10,
        **kwargs: Any,
    ):
        super().__init__(n_topics, **kwargs)
        self.embedding = embedding
        self.min_topic_size = min_topic_size

    def _needs_mean_acts(self) -> bool:
        return self.embedding == "mean"

    def embed(self, fc: FeatureCounts) -> np.ndarray:
        """Document embeddings ``(n_docs, d_model)`` from feature counts (see the module docstring)."""
        sae = self.bundle_.sae
        decoder = sae.W_dec.detach().float().cpu().numpy()[np.asarray(fc.features)]
        if self.embedding == "mean":
            if fc.mean_acts is None:
                raise ValueError("This mBERTopic needs mean activations: featurise with mean_acts=True.")
            weights = fc.mean_acts
        else:
            weights = sp.diags(1.0 / np.asarray(fc.n_tok, dtype=np.float64)) @ fc.counts
        return np.asarray(sp.csr_matrix(weights, dtype=np.float64) @ decoder, dtype=np.float32)

    def _make_bertopic(self) -> Any:
        from sklearn.feature_extraction.text import CountVectorizer

        vectorizer = CountVectorizer(token_pattern=r"f\d+", lowercase=False)
        from bertopic import BERTopic as StockBERTopic
        from hdbscan import HDBSCAN
        from umap import UMAP

        umap = UMAP(
            n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=self.random_state
        )
        hdbscan = HDBSCAN(
            min_cluster_size=self.min_topic_size,
            metric="euclidean",
            cluster_selection_method="eom",
            prediction_data=True,
        )
        return StockBERTopic(
            umap_model=umap,
            hdbscan_model=hdbscan,
            vectorizer_model=vectorizer,
            nr_topics=int(self.n_topics),
            min_topic_size=self.min_topic_size,
            verbose=False,
        )

    def _fit_counts(self, fc: FeatureCounts) -> tuple[np.ndarray, np.ndarray]:
        if self.embedding not in ("counts", "mean"):
            raise ValueError(f"embedding must be 'counts' or 'mean', got {self.embedding!r}.")
        model = self._make_bertopic()
        topics, _ = model.fit_transform(_feature_strings(fc), self.embed(fc))
        self.bertopic_ = model
        all_ids = sorted(model.get_topics())
        self.topic_ids_ = np.array([t for t in all_ids if t != -1])
        if self.topic_ids_.size == 0:
            raise ValueError("BERTopic found no topic (every document is an outlier); lower min_topic_size.")
        rows = [all_ids.index(t) for t in self.topic_ids_]
        ctfidf = sp.csr_matrix(model.c_tf_idf_)[rows]
        names = model.vectorizer_model.get_feature_names_out()
        column = {int(f): j for j, f in enumerate(self.features_)}
        beta = np.zeros((len(rows), len(self.features_)), dtype=np.float32)
        for j, name in enumerate(names):
            if int(name[1:]) in column:
                beta[:, column[int(name[1:])]] = ctfidf[:, j].toarray().ravel()
        self._label_topics()
        return self._one_hot(np.asarray(topics)), beta

    def _one_hot(self, topics: np.ndarray) -> np.ndarray:
        position = {int(t): k for k, t in enumerate(self.topic_ids_)}
        theta = np.zeros((len(topics), len(self.topic_ids_)), dtype=np.float32)
        for d, t in enumerate(topics):
            if int(t) in position:
                theta[d, position[int(t)]] = 1.0
        return theta

    def _label_topics(self) -> None:
        """Show each topic in BERTopic's plots by its top features' descriptions, when they are stored."""
        if not self.bundle_.examples:
            return
        from .descriptions import describe_features

        labels = {}
        for topic in self.topic_ids_:
            # BERTopic pads a topic with fewer words than top_n_words with empty strings
            words = [w for w, _ in self.bertopic_.get_topic(int(topic))[:3] if w[1:].isdigit()]
            labels[int(topic)] = f"{topic}: " + " | ".join(
                describe_features(self.bundle_, [int(w[1:]) for w in words])
            )
        self.bertopic_.set_topic_labels(labels)

    def _transform_counts(self, fc: FeatureCounts) -> np.ndarray:
        topics, _ = self.bertopic_.transform(_feature_strings(fc), self.embed(fc))
        return self._one_hot(np.asarray(topics))

    def _save_state(self, folder: Path) -> None:
        self.bertopic_.save(str(folder / _BERTOPIC_FILE), serialization="pickle", save_embedding_model=False)
        np.save(folder / "topic_ids.npy", self.topic_ids_)

    def _load_state(self, folder: Path) -> None:
        from bertopic import BERTopic

        self.bertopic_ = BERTopic.load(str(folder / _BERTOPIC_FILE))
        self.topic_ids_ = np.load(folder / "topic_ids.npy")
