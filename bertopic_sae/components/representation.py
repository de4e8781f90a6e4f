"""Stage 2 in BERTopic: :class:`EmissionTopicWords`, the emission matrix where c-TF-IDF stands.

BERTopic ranks a topic's words by the rows of ``c_tf_idf_``. Here those rows come from the learned
emission model, so every view that reads ``c_tf_idf_`` or ``get_topic`` (labels, barcharts,
hierarchy, heatmaps, topic search) shows emission words. By default a topic's row counts, over
its documents, the (IDF-weighted) words the atoms emit, by the model's responsibilities, each atom
weighted by how much of its activation falls in the topic (:meth:`EmissionModel.document_topic_word`);
``words_from="atoms"`` gives the paper's atom average ``P_c(w) = Σ_{k∈c} θ̄_k B_kw / Σ_{k∈c} θ̄_k``.
Topic rows of a time slice or class are re-estimated from that slice's words with the emission
matrix fixed (EM over the topic's atoms). Rows of single documents (representative documents,
``approximate_distribution``) are their word frequencies times the same IDF weights the emission
likelihood uses, which is also what a reloaded model keeps in ``_idf_diag``.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from bertopic.vectorizers import ClassTfidfTransformer
from sklearn.preprocessing import normalize

from ..tm.topic_words import Parent, exclusive_scores

__all__ = ["EmissionTopicWords"]


class EmissionTopicWords(ClassTfidfTransformer):
    """Topic words from the learned emission matrix; goes in BERTopic's ``ctfidf_model`` slot.

    :class:`bertopic_sae.BERTopic` uses it by default whenever the clustering model is an
    :class:`~bertopic_sae.SAEAtomMerger`. Representation models (KeyBERTInspired, MMR, ...) still run
    on top of the words it ranks.

    Arguments:
        words_from: ``"documents"`` (default): the words the atoms emit in the topic's documents
            (:func:`~bertopic_sae.tm.topic_words.document_topic_word`); ``"atoms"``: the paper's atom average.
        binary: count the documents that use a word (default) rather than its tokens.
        idf_weighted: weight words with the emission fit's IDF weights (default), as its likelihood does.
        share_prior: documents' worth of activation before an atom counts as specific to a topic.
        background_tokens: weight (0 to 1) of the tokens the background explains; 0 (default) drops them.
        weight_documents: count each document by the share of its activation on the topic's atoms (off).
        parent_prior: tokens' worth of its parent's words each topic's words are shrunk towards
            (``(n_c p̂_c + τ p_parent) / (n_c + τ)``, :func:`~bertopic_sae.tm.topic_words.shrink_to_parents`);
            0 (default): off.
        parent: ``"tree"`` (default): the parent is the topic's group in an average-linkage tree of the
            topics, itself shrunk towards its own parent; ``"atoms"``: the atom average of its atoms.
        idf_ranking: rank words by ``P_c(w) × idf(w)`` instead of ``P_c(w)``.
        exclusivity: ``α``: rank a topic's words by ``P_c(w) (P_c(w) / max_j P_j(w))^α``, so a word ranks
            high only in the topics that use it most (:func:`~bertopic_sae.tm.topic_words.exclusive_scores`;
            not applied to the rows of time slices or classes); 0: by ``P_c(w)``. Default 0.5.
        slice_iterations: EM steps that re-estimate a topic's atom mixture on a time slice or class.
        bm25_weighting: as in ``ClassTfidfTransformer`` (used only where c-TF-IDF rows are computed).
        reduce_frequent_words: as in ``ClassTfidfTransformer``.
        seed_words: words to boost in every topic (as in ``ClassTfidfTransformer``).
        seed_multiplier: boost of the seed words.

    How each option was chosen, with the measurements: ``benchmarks/README.md`` ("Topic words").

    Usage:

    ```python
    from bertopic_sae import BERTopic, SAEAtomMerger, EmissionTopicWords
    topic_model = BERTopic(clustering_model=SAEAtomMerger(20),
    ctfidf_model=EmissionTopicWords(idf_ranking=True))
    ```
    """

    def __init__(
        self,
        words_from: str = "documents",
        binary: bool = True,
        idf_weighted: bool = True,
        share_prior: float = 10.0,
        background_tokens: float = 0.0,
        weight_documents: bool = False,
        parent_prior: float = 0.0,
        parent: Parent = "tree",
        idf_ranking: bool = False,
        exclusivity: float = 0.5,
        slice_iterations: int = 30,
        bm25_weighting: bool = False,
        reduce_frequent_words: bool = False,
        seed_words: list[str] | None = None,
        seed_multiplier: float = 2,
    ):
        super().__init__(
            bm25_weighting=bm25_weighting,
            reduce_frequent_words=reduce_frequent_words,
            seed_words=seed_words,
            seed_multiplier=seed_multiplier,
        )
        self.words_from = words_from
        self.binary = binary
        self.idf_weighted = idf_weighted
        self.share_prior = share_prior
        self.background_tokens = background_tokens
        self.weight_documents = weight_documents
        self.parent_prior = parent_prior
        self.parent = parent
        self.idf_ranking = idf_ranking
        self.exclusivity = exclusivity
        self.slice_iterations = slice_iterations

    def fit(self, X: sp.csr_matrix, multiplier: np.ndarray | None = None) -> EmissionTopicWords:
        """BERTopic's c-TF-IDF fit, reached only where no emission matrix applies; warns of the fallback."""
        warnings.warn(
            "EmissionTopicWords is ranking these topic words by c-TF-IDF, not by the emission matrix: that "
            "needs bertopic_sae.BERTopic with a fitted SAEAtomMerger and the vocabulary the emission model "
            "was learned on (not stock BERTopic, partial_fit, or a new vectorizer without refitting the "
            "emission).",
            UserWarning, stacklevel=2,
        )
        return super().fit(X, multiplier)

    def fit_emission(self, emission_model, multiplier: np.ndarray | None = None) -> EmissionTopicWords:
        """Keep the emission model's IDF weights (times any seed-word multiplier) as ``_idf_diag``."""
        if self.bm25_weighting:
            raise ValueError(
                "bm25_weighting is a c-TF-IDF option that EmissionTopicWords does not use; drop it, or pass "
                "ctfidf_model=ClassTfidfTransformer(bm25_weighting=True) for c-TF-IDF words."
            )
        weights = np.asarray(emission_model.idf_, dtype=np.float64)
        if multiplier is not None:
            weights = weights * multiplier
        self._idf_diag = sp.diags(weights, offsets=0, shape=(weights.size, weights.size), format="csr")
        self._multiplier = multiplier
        return self

    def transform(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """Word frequencies of count rows times the IDF weights, as CSR (rows of documents or windows)."""
        X = normalize(sp.csr_matrix(X, dtype=np.float64), norm="l1", axis=1)
        if self.reduce_frequent_words:
            X.data = np.sqrt(X.data)
        return sp.csr_matrix(X @ self._idf_diag)

    def _rank(self, rows: np.ndarray) -> np.ndarray:
        if self.idf_ranking:
            rows = rows * self._idf_diag.diagonal()
        elif getattr(self, "_multiplier", None) is not None:
            rows = rows * self._multiplier
        return rows

    def topic_rows(
        self, emission_model, atom_topic: np.ndarray, topics: np.ndarray, documents: tuple | None = None
    ) -> sp.csr_matrix:
        """Word distribution of each topic id in ``topics`` (``atom_topic`` maps atoms to these ids, -1 none).

        ``documents`` = ``(theta, counts, doc_topic)`` of the training documents, needed by
        ``words_from="documents"``; without it the atom average is used.
        """
        if self.words_from not in ("documents", "atoms"):
            raise ValueError(f"words_from must be 'documents' or 'atoms', got {self.words_from!r}.")
        n_rows = int(max(topics.max(), atom_topic.max()) + 1) if len(topics) else 0
        if self.words_from == "documents" and documents is not None:
            theta, counts, doc_topic = documents
            n_rows = max(n_rows, int(np.max(doc_topic, initial=-1)) + 1)
            table = emission_model.document_topic_word(
                theta,
                counts,
                atom_topic,
                doc_topic,
                n_topics=n_rows,
                binary=self.binary,
                idf_weighted=self.idf_weighted,
                share_prior=self.share_prior,
                background_tokens=self.background_tokens,
                weight_documents=self.weight_documents,
                parent_prior=self.parent_prior,
                parent=self.parent,
            )
        else:
            table = emission_model.topic_word(atom_topic, n_topics=n_rows)
        table = exclusive_scores(table, getattr(self, "exclusivity", 0.0))  # older pickles lack it
        rows = np.stack([table[t] if t >= 0 else emission_model.background_ for t in topics])
        return sp.csr_matrix(self._rank(rows))

    def slice_rows(
        self, emission_model, counts: sp.csr_matrix, atom_topic: np.ndarray, topics: np.ndarray
    ) -> sp.csr_matrix:
        """Topic word distributions re-estimated on the words of each row (a time slice or class of one)."""
        emission = emission_model.emission_
        rows = np.zeros((len(topics), emission.shape[1]))
        for topic in np.unique(topics):
            members = np.flatnonzero(topics == topic)
            atoms = np.flatnonzero(atom_topic == topic)
            if topic < 0 or atoms.size == 0:
                rows[members] = emission_model.background_
                continue
            theta = emission_model.fold_in(counts[members], atoms=atoms, n_iter=self.slice_iterations)
            mixed = np.asarray(theta @ emission)
            empty = mixed.sum(axis=1) == 0  # no topic words in this slice: fall back to the topic's words
            if empty.any():
                mixed[empty] = emission_model.topic_word(np.where(atom_topic == topic, 0, -1), 1)[0]
            rows[members] = mixed
        return sp.csr_matrix(self._rank(rows))
