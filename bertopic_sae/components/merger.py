"""Stage 3: :class:`SAEAtomMerger` merges SAE atoms into topics (BERTopic's ``hdbscan_model`` slot).

The SAE has thousands of atoms; a topic is a group of atoms found by k-means over atom vectors,
weighted by how much each atom is used (θ̄). Atom vectors come from the words an atom emits (the
paper's merge: the top-p part of the emission row B_k times word vectors) or, without words, from
the decoder directions. From 50 topics (``centroid_init="auto"``, or always with ``"documents"``) the groups
come from a spherical k-means of the documents instead: each atom joins the topic of the documents it fires
on. Changing the number of topics re-runs only this k-means.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClusterMixin
from sklearn.exceptions import NotFittedError

from .._types import Codes, Counts, Embeddings, Labels
from ..sae.adapt import AdaptMode, should_adapt
from ..sae.config import SAEConfig, TrainConfig
from ..sae.model import check_embeddings
from ..tm.assignment import (
    centroid_start,
    document_seeds,
    fit_centroids,
    give_every_topic_a_document,
    membership,
    mixture,
    realign_atoms,
    unit_points,
)
from ..tm.merge import AtomPrefix, MergeInit, atom_prior, atom_vectors, kmeans_atoms, merge_prefix
from ..tm.state import FittedStages, fit_stages
from ._merger_state import MergerPersistence

__all__ = ["SAEAtomMerger"]

logger = logging.getLogger(__name__)


class SAEAtomMerger(ClusterMixin, MergerPersistence):  # mixins first: sklearn reads their tags
    """Merges SAE atoms into ``n_topics`` topics and assigns every document a topic (no outliers).

    Use it where BERTopic expects ``hdbscan_model``. Inside :class:`bertopic_sae.BERTopic` it only merges:
    BERTopic resolves the SAE and fits the emission model (:func:`bertopic_sae.tm.state.fit_stages`) and
    passes the result as ``stages``, with the vocabulary's word vectors, and the merger groups atoms by
    the words they emit. Used alone (e.g. in stock BERTopic) it accepts raw document embeddings (it runs
    the same :func:`~bertopic_sae.tm.state.fit_stages` on them, so no UMAP is needed) or the SAE codes an
    :class:`SAEEncoder` produced.

    Arguments:
        n_topics: number of topics.
        sae: the SAE when the merger runs the earlier stages itself: a :class:`SparseAutoencoder`, a
        checkpoint folder, ``"auto"`` (the SAE shipped for the
            embedding model when :class:`bertopic_sae.BERTopic` knows it, else one trained on the
            documents) or ``None`` (train one on the documents).
        merge: ``"words"`` (atom vectors from emitted words, the paper's merge; needs ``bow`` and
            ``word_vectors`` in ``fit``), ``"decoder"`` (decoder directions) or ``"auto"`` (words when
            available).
        top_p: share of an atom's emission mass whose words make its vector (the paper: 0.9).
        assignment: how a document picks its topic. ``"centroid"``: the topic whose centroid is most
            similar to the document's embedding (or SAE reconstruction); centroids start as
            ``centroid_init`` says and are refined by ``refine_iterations`` k-means steps, then every
            atom joins the topic of the documents it fires on. A topic thus cannot win documents merely
            because it owns many atoms. ``"sum"``: the paper's rule, the largest sum of the document's
            normalised codes over a topic's atoms (big catch-all topics swallow documents).
        centroid_init: how the topic centroids start (``"centroid"`` only). ``"atoms"``: the θ-weighted
            means of the documents over the topics of the atom k-means (its topics do not depend on
            ``random_state``). ``"documents"``: k-means++ seeds among the documents (seeded by
            ``random_state``): the topics are spherical k-means clusters of the documents, and every atom
            then joins the topic of the documents it fires on (the atom k-means and ``merge``, ``top_p``,
            ``merge_init``, ``n_init``, ``atom_prefix`` are not used): more coherent topic words at many
            topics, topics a little less far apart. ``"auto"``: documents from
            :data:`~bertopic_sae.tm.assignment.DOCUMENT_START_FROM` (50) topics, atoms below
            (benchmarks/README.md, "Distinct topics").
        refine_iterations: most k-means steps that refine the topic centroids (``"centroid"`` only);
            they stop early once fewer than 0.1% of the documents change topic. Each step is one pass
            of matrix products.
        background_weight: π, the share of words drawn from the background unigram (paper: 0.3).
        merge_init: how the k-means over atoms starts. ``"consensus"``: from the consensus of ``n_init``
            k-means++ runs with fixed seeds (which atoms they put together), so the merge is the same for
            every ``random_state``; ``"k-means++"``: ``n_init`` k-means++ starts seeded by
            ``random_state``, the lowest weighted inertia kept (0.1.0: ``n_init=1``).
        n_init: k-means++ runs of the merge, pooled (``"consensus"``) or the best kept (``"k-means++"``).
        atom_prefix: which atoms the k-means merges (:func:`~bertopic_sae.tm.merge.merge_prefix`):
            ``"auto"``: with a Matryoshka SAE the smallest nested dictionary holding 8 atoms per topic
            (its coarse atoms for few topics, all atoms for many), every atom otherwise; ``"all"``; or
            an integer, the first that many atoms. Atoms left out join the topic of their documents.
        adapt: whether a pretrained SAE (shipped or given; not one trained on the documents) is first
            fine-tuned on the documents (a copy, :func:`bertopic_sae.sae.adapt.fine_tune_sae`): ``"auto"``
            (when there are at most ``adapt_max_docs`` documents), ``"fine-tune"`` (always) or ``"never"``.
        adapt_max_docs: corpus-size threshold of ``adapt="auto"``.
        adapt_steps: fine-tuning steps (batches of 500 at lr 2e-4).
        sae_config: shape of an SAE trained on the documents (when the merger trains one).
        train_config: how to train it.
        random_state: seed of the merge's k-means++ starts (and of SAE training when the merger trains one).
        verbose: show progress.

    Attributes:
        labels_: topic of every training document, ``0..n_topics-1``.
        probabilities_: ``(n_docs, n_topics)`` topic mixture of every training document: the share of
            its SAE activation on each topic's atoms. With ``assignment="centroid"`` the label is the
            nearest topic centroid instead, so for some documents the largest entry
            is another topic; :meth:`bertopic_sae.BERTopic.get_document_info` shows both.
        atom_topic_: topic of every atom (``-1`` for atoms that never fire).
        atom_weights_: θ̄, the mean normalised activation of every atom (sums to 1).
        timings_: seconds spent in ``fit`` on the earlier stages (when the merger ran them) and the merge.
        stages_: the :class:`~bertopic_sae.tm.state.FittedStages` it merged (SAE, codes, words, emission).
        adapted_: whether ``sae_`` was fine-tuned on the training documents (``adapt``).
        sae_, codes_, emission_model_, counts_: the same as ``stages_.sae`` ... (read-only views).

    Usage:

    ```python
    from bertopic_sae import BERTopic, SAEAtomMerger
    topic_model = BERTopic(clustering_model=SAEAtomMerger(n_topics=20), embedding_model=model)
    topics, probs = topic_model.fit_transform(docs, embeddings)
    ```
    """

    def __init__(
        self,
        n_topics: int = 50,
        sae="auto",
        merge: str = "auto",
        top_p: float = 0.9,
        assignment: str = "centroid",
        centroid_init: str = "auto",
        refine_iterations: int = 100,
        background_weight: float = 0.3,
        merge_init: MergeInit = "consensus",
        n_init: int = 30,
        atom_prefix: AtomPrefix = "auto",
        adapt: AdaptMode = "never",
        adapt_max_docs: int = 4000,
        adapt_steps: int = 300,
        sae_config: SAEConfig | None = None,
        train_config: TrainConfig | None = None,
        random_state: int | None = 42,
        verbose: bool = False,
    ):
        self.n_topics = n_topics
        self.sae = sae
        self.merge = merge
        self.top_p = top_p
        self.assignment = assignment
        self.centroid_init = centroid_init
        self.refine_iterations = refine_iterations
        self.background_weight = background_weight
        self.merge_init = merge_init
        self.n_init = n_init
        self.atom_prefix = atom_prefix
        self.adapt = adapt
        self.adapt_max_docs = adapt_max_docs
        self.adapt_steps = adapt_steps
        self.sae_config = sae_config
        self.train_config = train_config
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def _check_params(self, n_docs: int) -> None:
        n_topics = self.n_topics
        if isinstance(n_topics, bool) or not isinstance(n_topics, (int, np.integer)) or n_topics < 1:
            raise ValueError(f"n_topics must be a positive integer, got {self.n_topics!r}.")
        if n_docs < self.n_topics:
            raise ValueError(
                f"Got {n_docs} documents (n_samples={n_docs}) but n_topics={self.n_topics}: every topic "
                "needs a document. Pass more documents or lower n_topics."
            )
        if self.merge not in ("auto", "words", "decoder"):
            raise ValueError(f"merge must be 'auto', 'words' or 'decoder', got {self.merge!r}.")
        if self.assignment not in ("centroid", "sum"):
            raise ValueError(f"assignment must be 'centroid' or 'sum', got {self.assignment!r}.")
        centroid_start(self.centroid_init, self.n_topics)  # raises on a bad centroid_init
        if self.refine_iterations < 0:
            raise ValueError(f"refine_iterations must be >= 0, got {self.refine_iterations}.")
        if self.merge_init not in ("consensus", "k-means++"):
            raise ValueError(f"merge_init must be 'consensus' or 'k-means++', got {self.merge_init!r}.")
        if isinstance(self.n_init, bool) or not isinstance(self.n_init, (int, np.integer)) or self.n_init < 1:
            raise ValueError(f"n_init must be a positive integer, got {self.n_init!r}.")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}.")
        if isinstance(self.atom_prefix, str) and self.atom_prefix not in ("auto", "all"):
            raise ValueError(f"atom_prefix must be 'auto', 'all' or an integer, got {self.atom_prefix!r}.")
        should_adapt(self.adapt, n_docs, self.adapt_max_docs)  # raises on a bad adapt / adapt_max_docs
        steps = self.adapt_steps
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"adapt_steps must be a positive integer, got {steps!r}.")

    def stage_params(self) -> dict:
        """The keyword arguments of :func:`~bertopic_sae.tm.state.fit_stages` this merger's parameters set."""
        return {
            "sae_config": self.sae_config, "train_config": self.train_config,
            "background_weight": self.background_weight,
            # merger pickles of older versions lack the adapt parameters
            "adapt": getattr(self, "adapt", "never"), "adapt_max_docs": getattr(self, "adapt_max_docs", 4000),
            "adapt_steps": getattr(self, "adapt_steps", 300),
            "random_state": self.random_state, "verbose": self.verbose,
        }

    def fit(
        self,
        X: Embeddings | Codes,
        y: Labels | None = None,
        *,
        stages: FittedStages | None = None,
        word_vectors: Embeddings | None = None,
        bow: Counts | None = None,
        embedding_model_name: str | None = None,
        embeddings=None,
    ) -> SAEAtomMerger:
        """Merge atoms into topics and assign the documents.

        Arguments:
            X: document embeddings ``(n, d_in)``, or SAE codes ``(n, d_sae)`` from :class:`SAEEncoder`.
            y: ignored: atoms are merged without supervision (BERTopic's guided modelling passes
                partial labels; :class:`bertopic_sae.BERTopic` warns when given a full set).
            stages: the fitted SAE and emission stages of these documents (from ``fit_stages``); without it
                the merger runs ``fit_stages`` itself with its ``sae``, ``bow`` and ``embedding_model_name``.
            word_vectors: ``(V, dim)`` vectors of the vocabulary words, for the word-based merge.
            bow: bag-of-words counts ``(n, V)`` of the documents (only without ``stages``).
            embedding_model_name: name of the embedding model, to pick a shipped SAE (only without
            ``stages``).
            embeddings: when ``X`` holds SAE codes, the documents' embeddings, for the centroid assignment
                (else the SAE reconstructions stand in for them).
        """
        if not sp.issparse(X):
            X = check_embeddings(X, name="X")
        elif stages is None and self.sae in ("auto", None, "train"):
            raise ValueError(
                "Sparse input (SAE codes) is not supported without the SAE that made it: pass "
                "SAEAtomMerger(sae=...) the SAE of the SAEEncoder, or fit on dense embeddings."
            )
        n_docs = X.shape[0]
        self._check_params(n_docs)
        self.n_features_in_ = X.shape[1]
        timer = time.perf_counter()
        if stages is None:
            stages = fit_stages(X, sae=self.sae, bow=bow, embedding_model_name=embedding_model_name,
                                **self.stage_params())
        elif stages.codes.shape[0] != n_docs:
            raise ValueError(f"stages hold {stages.codes.shape[0]} documents but X has {n_docs} rows.")
        self.timings_ = {"stages": time.perf_counter() - timer}
        self.stages_ = stages
        self.atom_weights_ = atom_prior(stages.codes)
        active = np.flatnonzero(self.atom_weights_ > 0)
        if active.size < self.n_topics:
            raise ValueError(
                f"Only {active.size} SAE atoms fire on these documents, fewer than n_topics={self.n_topics}. "
                "Lower n_topics or use an SAE with more atoms / a smaller L1 coefficient."
            )
        timer = time.perf_counter()
        self.merge_ = self._pick_merge(word_vectors)
        words = self.merge_ == "words" and stages.emission is not None  # _pick_merge checked it
        emission = stages.emission.emission_ if words and stages.emission is not None else None
        decoder = self.sae_.atoms() if self.merge_ == "decoder" else None
        self._atom_vectors = atom_vectors(
            self.atom_weights_,
            emission=emission,
            word_vectors=word_vectors,
            decoder=decoder,
            top_p=self.top_p,
        )
        if embeddings is not None:
            embeddings = check_embeddings(embeddings, self.sae_.d_in if self.sae_ is not None else None)
        self._assign_atoms(self.n_topics, embeddings if sp.issparse(X) else X)
        self.timings_["merge"] = time.perf_counter() - timer
        return self

    # The earlier stages' results, as the merger saw them (read-only).
    sae_ = property(lambda self: self.stages_.sae, doc="The SAE of the stages the merger was fitted with.")
    codes_ = property(lambda self: self.stages_.codes, doc="SAE codes of the training documents.")
    emission_model_ = property(lambda self: self.stages_.emission, doc="The fitted emission model, or None.")
    counts_ = property(
        lambda self: self.stages_.counts, doc="Bag of words of the training documents, or None."
    )
    adapted_ = property(lambda self: self.stages_.adapted, doc="Whether the SAE was fine-tuned on the docs.")

    def set_stages(self, stages: FittedStages) -> SAEAtomMerger:
        """Replace the earlier stages' results (e.g. an emission model re-fitted on a new vocabulary) and
        keep the merge; the documents and their codes must be the same."""
        self._check_fitted()
        if stages.codes.shape != self.codes_.shape:
            raise ValueError(
                f"stages hold codes of shape {stages.codes.shape}, the merger {self.codes_.shape}."
            )
        self.stages_ = stages
        return self

    def partial_fit(self, X: Embeddings | Codes, y: Labels | None = None) -> SAEAtomMerger:
        """Online BERTopic: the first batch fixes the atoms' topics; later batches are only assigned.

        ``labels_`` and ``probabilities_`` then describe the latest batch, as BERTopic expects.
        """
        if not hasattr(self, "atom_topic_"):
            return self.fit(X, y)
        self.labels_, self.probabilities_ = self.assign(X)
        return self

    def _pick_merge(self, word_vectors) -> str:
        has_words = self.emission_model_ is not None and word_vectors is not None
        if self.merge == "words" and not has_words:
            raise ValueError(
                "merge='words' needs the documents' words: use bertopic_sae.BERTopic (it passes them), "
                "or call fit(X, bow=..., word_vectors=...)."
            )
        if self.merge == "decoder" or (self.merge == "auto" and not has_words):
            if self.sae_ is None:
                raise ValueError(
                    "The decoder merge needs the SAE: pass the SAE used by SAEEncoder as "
                    "SAEAtomMerger(sae=...)."
                )
            return "decoder"
        return "words"

    def _assign_atoms(self, n_topics: int, embeddings=None) -> None:
        # A documents start: no atom k-means; the atoms join their documents' topics below.
        start = centroid_start(getattr(self, "centroid_init", "atoms"), n_topics)  # older pickles lack it
        from_documents = self._uses_centroids() and start == "documents"
        if from_documents:
            self.atom_prefix_: int | None = None
            self._set_atom_topics(np.full(self.atom_weights_.shape[0], -1, dtype=np.int64), n_topics)
        else:
            self._merge_atoms_by_kmeans(n_topics)
        self.topic_centroids_ = None
        if self._uses_centroids():
            n_docs = self.codes_.shape[0]
            points = lambda: self._points(self.codes_, embeddings)  # noqa: E731
            if from_documents:
                seeds = document_seeds(points, n_docs, n_topics, self.random_state)
                self.topic_centroids_ = fit_centroids(points, None, n_docs, self.sae_.d_in,
                                                      self.refine_iterations, start=seeds)
            else:
                self.topic_centroids_ = fit_centroids(points, self._mixture(self.codes_), n_docs,
                                                      self.sae_.d_in, self.refine_iterations)
        self.labels_, self.probabilities_ = self._assign(self.codes_, embeddings, repair_empty=True)
        if self.topic_centroids_ is not None or self.atom_prefix_ is not None:  # atoms join their documents
            self._set_atom_topics(
                realign_atoms(self.codes_, self.labels_, self.atom_topic_, self.n_topics_), self.n_topics_
            )
            self.probabilities_ = self._mixture(self.codes_)

    def _merge_atoms_by_kmeans(self, n_topics: int) -> None:
        """The atom k-means (an atoms start): every active atom of the prefix gets a topic."""
        sae_cfg = self.sae_.cfg if self.sae_ is not None else None
        self.atom_prefix_ = merge_prefix(sae_cfg, n_topics, getattr(self, "atom_prefix", "auto"))
        weights = self.atom_weights_
        if self.atom_prefix_ is not None:
            weights = np.where(np.arange(weights.size) < self.atom_prefix_, weights, 0.0)
            if np.count_nonzero(weights) < n_topics:
                raise ValueError(
                    f"Only {np.count_nonzero(weights)} of the first {self.atom_prefix_} atoms fire on these "
                    f"documents, fewer than n_topics={n_topics}; pass a larger atom_prefix or 'all'."
                )
        atom_topic = kmeans_atoms(self._atom_vectors, weights, n_topics, self.random_state,
                                  init=self.merge_init, n_init=self.n_init, verbose=self.verbose)
        self._set_atom_topics(atom_topic, n_topics)

    def _uses_centroids(self) -> bool:
        return self.assignment == "centroid" and self.sae_ is not None

    def _points(self, codes: sp.csr_matrix, embeddings=None):
        return unit_points(codes, self.sae_.decode_numpy if self.sae_ is not None else None, embeddings,
                           self.stages_.float16_grid)

    def _set_atom_topics(self, atom_topic: np.ndarray, n_topics: int) -> None:
        self.atom_topic_ = np.asarray(atom_topic, dtype=np.int64)
        self.n_topics_ = n_topics
        self._membership = membership(self.atom_topic_, n_topics)
        self.topic_weights_ = np.asarray(self._membership.T @ self.atom_weights_).ravel()

    def merge_atoms(self, n_topics: int, embeddings: Embeddings | None = None) -> SAEAtomMerger:
        """Re-merge the atoms into ``n_topics`` topics without touching the SAE or the emission model.

        Updates ``atom_topic_``, ``labels_`` and ``probabilities_`` for the training documents. Pass the
        training ``embeddings`` for the centroid assignment to use them (else SAE reconstructions).
        """
        self._check_fitted()
        if isinstance(n_topics, bool) or not isinstance(n_topics, (int, np.integer)) or \
                not 1 <= n_topics <= self.codes_.shape[0]:
            raise ValueError(
                f"n_topics must be an integer in 1..{self.codes_.shape[0]} (the documents), got {n_topics!r}."
            )
        if embeddings is not None:
            embeddings = check_embeddings(embeddings, self.sae_.d_in if self.sae_ is not None else None)
            if embeddings.shape[0] != self.codes_.shape[0]:
                raise ValueError(
                    f"embeddings has {embeddings.shape[0]} rows; the merger was fit on "
                    f"{self.codes_.shape[0]} documents."
                )
            self._check_same_documents(embeddings)
        self._assign_atoms(int(n_topics), embeddings)
        return self

    def _check_same_documents(self, embeddings) -> None:
        """Refuse embeddings of other documents: their codes must fire the atoms the training codes fire."""
        if self.sae_ is None:
            return
        rows = np.unique(np.linspace(0, self.codes_.shape[0] - 1, min(256, self.codes_.shape[0])).astype(int))
        fresh = self.sae_.encode_csr(np.asarray(embeddings[rows], dtype=np.float32), float16_grid=True) > 0
        stored = self.codes_[rows] > 0
        overlap = np.asarray(fresh.multiply(stored).sum(axis=1)).ravel()
        union = np.asarray((fresh + stored).astype(bool).sum(axis=1)).ravel()
        if np.mean(overlap / np.maximum(union, 1)) < 0.5:  # the same documents give ~1
            raise ValueError(
                "These embeddings are not the documents the model was fitted on (their SAE codes differ); "
                "pass the training documents' embeddings in the same order, or embeddings=None."
            )

    # ------------------------------------------------------------------ assignment
    def _mixture(self, codes: sp.csr_matrix) -> np.ndarray:
        return mixture(codes, self._membership, self.topic_weights_)

    def _assign(self, codes: sp.csr_matrix, embeddings=None, *, repair_empty: bool = False):
        """``(labels, mixture)`` of documents from their codes (and embeddings, when known)."""
        mixture = self._mixture(codes)
        centroids = getattr(self, "topic_centroids_", None)
        if centroids is not None:
            scores = np.vstack([points @ centroids.T for _, points in self._points(codes, embeddings)])
        else:
            scores = mixture
        labels = scores.argmax(axis=1)
        if repair_empty:
            labels = give_every_topic_a_document(labels, scores)
        return labels.astype(np.int64), mixture

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "atom_topic_"):
            raise NotFittedError(
                "This SAEAtomMerger is not fitted yet; call fit (or BERTopic.fit_transform) first."
            )

    def transform_codes(self, X: Embeddings | Codes) -> sp.csr_matrix:
        """SAE codes of new documents (embeddings are encoded; codes pass through)."""
        self._check_fitted()
        if not sp.issparse(X):
            X = check_embeddings(X, name="X")
        expected = getattr(self, "n_features_in_", X.shape[1])  # models saved by 0.1.0 lack it
        if X.shape[1] != expected:
            raise ValueError(
                f"X has {X.shape[1]} features, but SAEAtomMerger is expecting {expected} features as input: "
                "pass what it was fitted on (embeddings of the same model, or codes)."
            )
        if sp.issparse(X):
            codes = sp.csr_matrix(X, dtype=np.float32)
            if codes.shape[1] != self.atom_topic_.shape[0]:
                raise ValueError(
                    f"Got codes with {codes.shape[1]} atoms; the merger was fit on "
                    f"{self.atom_topic_.shape[0]}."
                )
            return codes
        if self.sae_ is None:
            raise ValueError(
                "This merger was fit on SAE codes; pass codes (from SAEEncoder), not embeddings."
            )
        return self.sae_.encode_csr(X, float16_grid=self.stages_.float16_grid)

    def assign(
        self, X: Embeddings | Codes, embeddings: Embeddings | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(labels, probabilities)`` of new documents (embeddings or SAE codes) in one pass; with codes,
        their ``embeddings`` serve the centroid assignment."""
        dense = embeddings if sp.issparse(X) else X
        return self._assign(self.transform_codes(X), dense)

    def predict_proba(self, X: Embeddings | Codes) -> np.ndarray:
        """Topic distribution ``(n, n_topics)`` of new documents (embeddings or SAE codes)."""
        return self.assign(X)[1]

    def predict(self, X: Embeddings | Codes) -> np.ndarray:
        """Topic of new documents (embeddings or SAE codes)."""
        return self.assign(X)[0]

    def approximate_predict(self, X: Embeddings | Codes) -> tuple[np.ndarray, np.ndarray]:
        """HDBSCAN-style ``(labels, strengths)``: the topic and its probability."""
        labels, probabilities = self.assign(X)
        return labels, probabilities[np.arange(labels.size), labels]

    def fit_predict(self, X: Embeddings | Codes, y: Labels | None = None, **fit_params) -> np.ndarray:
        return self.fit(X, y, **fit_params).labels_

    def topic_atoms(self, topic: int) -> np.ndarray:
        """Indices of the atoms merged into ``topic`` (a raw label of this merger)."""
        self._check_fitted()
        return np.flatnonzero(self.atom_topic_ == topic)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
