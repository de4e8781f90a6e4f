"""Stage 3: :class:`SAEAtomMerger` merges SAE atoms into topics (BERTopic's ``hdbscan_model`` slot).

The SAE has thousands of atoms; a topic is a group of atoms found by k-means over atom vectors,
weighted by how much each atom is used (θ̄). Atom vectors come from the words an atom emits (the
paper's merge: the top-p part of the emission row B_k times word vectors) or, without words, from
the decoder directions. Changing the number of topics re-runs only this k-means.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize

from ..sae.config import SAEConfig, TrainConfig
from ..sae.model import SparseAutoencoder, check_embeddings, round_to_float16
from ..sae.resolve import resolve_sae
from ..tm.merge import top_p_rows

__all__ = ["SAEAtomMerger"]

logger = logging.getLogger(__name__)


def _one_hot(labels: np.ndarray, n_columns: int) -> sp.csr_matrix:
    return sp.csr_matrix((np.ones(labels.size, np.float32), (np.arange(labels.size), labels)),
                         shape=(labels.size, n_columns))


class SAEAtomMerger(BaseEstimator, ClusterMixin):
    """Merges SAE atoms into ``n_topics`` topics and assigns every document a topic (no outliers).

    Use it where BERTopic expects ``hdbscan_model``. It accepts either raw document embeddings (it
    encodes them with its SAE, so no UMAP is needed) or the SAE codes an :class:`SAEEncoder`
    produced. Inside :class:`bertopic_sae.BERTopic` it also receives the documents' bag of words and
    word vectors, learns the word-emission matrix, and merges atoms by the words they emit.

    Arguments:
        n_topics: number of topics.
        sae: a :class:`SparseAutoencoder`, a checkpoint folder, ``"auto"`` (the SAE shipped for the
            embedding model when :class:`bertopic_sae.BERTopic` knows it, else one trained on the
            documents) or ``None`` (train one on the documents).
        merge: ``"words"`` (atom vectors from emitted words, the paper's merge; needs ``bow`` and
            ``word_vectors`` in ``fit``), ``"decoder"`` (decoder directions) or ``"auto"`` (words when
            available).
        top_p: share of an atom's emission mass whose words make its vector (the paper: 0.9).
        assignment: how a document picks its topic. ``"centroid"``: the topic whose centroid is most
            similar to the document's SAE reconstruction; centroids start as the θ-weighted means of
            the documents and are refined by ``refine_iterations`` k-means steps, then every atom joins
            the topic of the documents it fires on. A topic thus cannot win documents merely because
            it owns many atoms. ``"sum"``: the paper's rule, the largest sum of the document's
            normalised codes over a topic's atoms (big catch-all topics swallow documents).
        refine_iterations: most k-means steps that refine the topic centroids (``"centroid"`` only);
            they stop early once fewer than 0.1% of the documents change topic. Each step is one pass
            of matrix products.
        background_weight: π, the share of words drawn from the background unigram (paper: 0.3).
        sae_config: shape of an SAE trained on the documents (when one is trained).
        train_config: how to train it.
        random_state: seed of k-means.
        verbose: show progress.

    Attributes:
        labels_: topic of every training document, ``0..n_topics-1``.
        probabilities_: ``(n_docs, n_topics)`` topic mixture of every training document: the share of
            its SAE activation on each topic's atoms. With ``assignment="centroid"`` the label is the
            nearest topic centroid instead, so for some documents (20-40% on BBC News) the largest entry
            is another topic; :meth:`bertopic_sae.BERTopic.get_document_info` shows both.
        atom_topic_: topic of every atom (``-1`` for atoms that never fire).
        atom_weights_: θ̄, the mean normalised activation of every atom (sums to 1).
        timings_: seconds spent in ``fit`` on SAE encoding, the emission model and the merge.
        emission_model_: the fitted :class:`~bertopic_sae.EmissionModel` (when words were given).
        counts_: bag of words of the training documents the emission model was fitted on (or None).
        sae_: the SAE used.

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
        refine_iterations: int = 100,
        background_weight: float = 0.3,
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
        self.refine_iterations = refine_iterations
        self.background_weight = background_weight
        self.sae_config = sae_config
        self.train_config = train_config
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def _check_params(self, n_docs: int) -> None:
        if isinstance(self.n_topics, bool) or not isinstance(self.n_topics, (int, np.integer)) or self.n_topics < 1:
            raise ValueError(f"n_topics must be a positive integer, got {self.n_topics!r}.")
        if n_docs < self.n_topics:
            raise ValueError(
                f"Got {n_docs} documents but n_topics={self.n_topics}: every topic needs at least one "
                "document. Pass more documents or lower n_topics."
            )
        if self.merge not in ("auto", "words", "decoder"):
            raise ValueError(f"merge must be 'auto', 'words' or 'decoder', got {self.merge!r}.")
        if self.assignment not in ("centroid", "sum"):
            raise ValueError(f"assignment must be 'centroid' or 'sum', got {self.assignment!r}.")
        if self.refine_iterations < 0:
            raise ValueError(f"refine_iterations must be >= 0, got {self.refine_iterations}.")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}.")

    def fit(self, X, y=None, *, bow=None, word_vectors=None, embedding_model_name: str | None = None,
            encoder_sae: SparseAutoencoder | None = None, embeddings=None):
        """Merge atoms into topics and assign the documents.

        Arguments:
            X: document embeddings ``(n, d_in)``, or SAE codes ``(n, d_sae)`` from :class:`SAEEncoder`.
            y: ignored when it only marks some documents (BERTopic's guided modelling passes it);
                a full set of labels is rejected, since atoms are merged without supervision.
            bow: bag-of-words counts ``(n, V)`` of the same documents; enables the emission model.
            word_vectors: ``(V, dim)`` vectors of the vocabulary words, for the word-based merge.
            embedding_model_name: name of the embedding model, to pick a shipped SAE.
            encoder_sae: when ``X`` holds SAE codes, the SAE that made them (:class:`SAEEncoder`'s), used
                for the centroid assignment and the decoder merge when ``sae`` is ``"auto"``/``None``.
            embeddings: when ``X`` holds SAE codes, the documents' embeddings, for the centroid
                assignment (else the SAE reconstructions stand in for them).
        """
        n_docs = X.shape[0]
        self._check_params(n_docs)
        timer = time.perf_counter()
        if y is not None:
            y = np.asarray(y)
            if y.size and (y >= 0).all():
                raise ValueError(
                    "SAEAtomMerger merges atoms without supervision and cannot use a full set of labels y. "
                    "For supervised topics use BERTopic's BaseCluster (manual topic modelling); guided topic "
                    "modelling with seed_topic_list works as is."
                )
        codes = self._fit_codes(X, embedding_model_name, encoder_sae)
        self.timings_ = {"encode": time.perf_counter() - timer}
        theta = normalize(codes, norm="l1")
        mass = np.asarray(theta.sum(axis=0)).ravel()
        self.atom_weights_ = mass / max(mass.sum(), 1e-12)
        active = np.flatnonzero(self.atom_weights_ > 0)
        if active.size < self.n_topics:
            raise ValueError(
                f"Only {active.size} SAE atoms fire on these documents, fewer than n_topics={self.n_topics}. "
                "Lower n_topics or use an SAE with more atoms / a smaller L1 coefficient."
            )

        self.codes_ = codes
        self.emission_model_, self.counts_ = None, None
        timer = time.perf_counter()
        if bow is not None:
            self.refit_emission(bow)
        self.timings_["emission"] = time.perf_counter() - timer
        timer = time.perf_counter()
        self.merge_ = self._pick_merge(word_vectors)
        self._atom_vectors = self._make_atom_vectors(word_vectors)
        if embeddings is not None:
            embeddings = check_embeddings(embeddings, self.sae_.d_in if self.sae_ is not None else None)
        self._assign_atoms(self.n_topics, embeddings if sp.issparse(X) else X)
        self.timings_["merge"] = time.perf_counter() - timer
        return self

    def partial_fit(self, X, y=None) -> "SAEAtomMerger":
        """Online BERTopic: the first batch fixes the atoms' topics; later batches are only assigned.

        ``labels_`` and ``probabilities_`` then describe the latest batch, as BERTopic expects.
        """
        if not hasattr(self, "atom_topic_"):
            return self.fit(X, y)
        self.labels_, self.probabilities_ = self._assign_new(X)
        return self

    def refit_emission(self, bow) -> "SAEAtomMerger":
        """(Re-)learn the emission model on the training documents' words ``bow`` ``(n_docs, V)``."""
        from ..tm.emission import EmissionModel

        bow = sp.csr_matrix(bow)
        if bow.shape[0] != self.codes_.shape[0]:
            raise ValueError(f"bow has {bow.shape[0]} rows but there are {self.codes_.shape[0]} documents.")
        if bow.shape[1] == 0:
            raise ValueError("The vocabulary is empty: lower the vectorizer's min_df or pass more documents.")
        self.emission_model_ = EmissionModel(
            background_weight=self.background_weight, random_state=self.random_state, verbose=self.verbose
        ).fit(normalize(self.codes_, norm="l1"), bow)
        self.counts_ = bow  # topic words are read off the documents' words (EmissionTopicWords)
        return self

    def _fit_codes(self, X, embedding_model_name, encoder_sae=None) -> sp.csr_matrix:
        if sp.issparse(X):
            self.sae_ = encoder_sae if self.sae in ("auto", None, "train") else resolve_sae(self.sae, None)
            codes = sp.csr_matrix(X, dtype=np.float32)
            if self.sae_ is not None and codes.shape[1] != self.sae_.d_sae:
                raise ValueError(f"Got codes with {codes.shape[1]} atoms, but the SAE has {self.sae_.d_sae}.")
            self._input = "codes"
            return codes
        X = check_embeddings(X)
        self.sae_ = resolve_sae(
            self.sae, X, sae_config=self.sae_config, train_config=self.train_config,
            embedding_model_name=embedding_model_name, seed=self.random_state, verbose=self.verbose,
        )
        check_embeddings(X, self.sae_.d_in)
        self._input = "embeddings"
        return self.sae_.encode_csr(X, verbose=self.verbose, float16_grid=True)

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
                    "The decoder merge needs the SAE: pass the SAE used by SAEEncoder as SAEAtomMerger(sae=...)."
                )
            return "decoder"
        return "words"

    def _make_atom_vectors(self, word_vectors) -> np.ndarray:
        if self.merge_ == "words":
            word_vectors = np.asarray(word_vectors, dtype=np.float32)
            emission = self.emission_model_.emission_
            if word_vectors.shape[0] != emission.shape[1]:
                raise ValueError(
                    f"word_vectors has {word_vectors.shape[0]} rows but the vocabulary has {emission.shape[1]} words."
                )
            vectors = top_p_rows(emission, self.top_p) @ word_vectors
        else:
            vectors = self.sae_.atoms()
        # Every atom vector shares the corpus's common direction; removing it and comparing directions
        # keeps generic atoms from collapsing into one giant cluster.
        active = self.atom_weights_ > 0
        vectors = vectors - np.average(vectors[active], axis=0, weights=self.atom_weights_[active])
        return normalize(vectors).astype(np.float32)

    def _assign_atoms(self, n_topics: int, embeddings=None) -> None:
        active = np.flatnonzero(self.atom_weights_ > 0)
        kmeans = KMeans(n_clusters=n_topics, n_init=1, random_state=self.random_state)
        kmeans.fit(self._atom_vectors[active], sample_weight=self.atom_weights_[active])
        atom_topic = np.full(self.atom_weights_.shape[0], -1, dtype=np.int64)
        atom_topic[active] = kmeans.labels_
        self._set_atom_topics(atom_topic, n_topics)
        self.topic_centroids_ = None
        if self._uses_centroids():
            self._fit_centroids(embeddings)
        self.labels_, self.probabilities_ = self._assign(self.codes_, embeddings, repair_empty=True)
        if self.topic_centroids_ is not None:
            self._realign_atoms(self.labels_)
            self.probabilities_ = self._mixture(self.codes_)

    def _uses_centroids(self) -> bool:
        return self.assignment == "centroid" and self.sae_ is not None

    def _points(self, codes: sp.csr_matrix, embeddings=None):
        """Unit-norm document vectors in blocks (bounded memory): the embeddings when given, else the
        SAE reconstructions of the codes (less exact, most of all for an SAE trained on other data)."""
        for start in range(0, codes.shape[0], 65_536):
            if embeddings is not None:
                block = round_to_float16(embeddings[start : start + 65_536])
            else:
                block = self.sae_.decode_numpy(codes[start : start + 65_536])
            yield start, normalize(block).astype(np.float32, copy=False)

    def _fit_centroids(self, embeddings=None) -> None:
        blocks = self._points(self.codes_, embeddings)
        if self.codes_.shape[0] * self.sae_.d_in <= 2**26:  # up to 256 MB: keep the points for all steps
            blocks = list(blocks)
        mixture = self._mixture(self.codes_)
        centroids = np.zeros((self.n_topics_, self.sae_.d_in), dtype=np.float32)
        for start, points in (blocks if isinstance(blocks, list) else self._points(self.codes_, embeddings)):
            centroids += mixture[start : start + points.shape[0]].T.astype(np.float32) @ points
        centroids = normalize(centroids)
        previous = None
        for _ in range(self.refine_iterations):  # spherical k-means steps, seeded by the atom topics
            sums = np.zeros_like(centroids)
            labels = []
            for _, points in (blocks if isinstance(blocks, list) else self._points(self.codes_, embeddings)):
                block = (points @ centroids.T).argmax(axis=1)
                sums += _one_hot(block, self.n_topics_).T @ points
                labels.append(block)
            labels = np.concatenate(labels)
            if previous is not None and (labels != previous).mean() < 1e-3:  # < 0.1% of documents moved
                break
            previous = labels
            empty = ~sums.any(axis=1)
            sums[empty] = centroids[empty]
            centroids = normalize(sums)
        self.topic_centroids_ = centroids.astype(np.float32)

    def _realign_atoms(self, labels: np.ndarray) -> None:
        # Each atom joins the topic whose documents carry most of its mass, so a topic's words
        # (from its atoms) describe the documents it holds. Atoms no training document uses keep
        # their k-means topic.
        theta = normalize(self.codes_, norm="l1")
        documents = _one_hot(labels, self.n_topics_)
        mass = np.asarray((theta.T @ documents).todense())
        atom_topic = self.atom_topic_.copy()
        used = mass.sum(axis=1) > 0
        atom_topic[used] = mass[used].argmax(axis=1)
        self._set_atom_topics(atom_topic, self.n_topics_)

    def _set_atom_topics(self, atom_topic: np.ndarray, n_topics: int) -> None:
        self.atom_topic_ = np.asarray(atom_topic, dtype=np.int64)
        self.n_topics_ = n_topics
        used = np.flatnonzero(self.atom_topic_ >= 0)
        self._membership = sp.csr_matrix(
            (np.ones(used.size, np.float32), (used, self.atom_topic_[used])),
            shape=(self.atom_topic_.shape[0], n_topics),
        )
        self.topic_weights_ = np.asarray(self._membership.T @ self.atom_weights_).ravel()

    def merge_atoms(self, n_topics: int, embeddings=None) -> "SAEAtomMerger":
        """Re-merge the atoms into ``n_topics`` topics without touching the SAE or the emission model.

        Updates ``atom_topic_``, ``labels_`` and ``probabilities_`` for the training documents. Pass the
        training ``embeddings`` for the centroid assignment to use them (else SAE reconstructions).
        """
        self._check_fitted()
        if isinstance(n_topics, bool) or not isinstance(n_topics, (int, np.integer)) or \
                not 1 <= n_topics <= self.codes_.shape[0]:
            raise ValueError(f"n_topics must be an integer in 1..{self.codes_.shape[0]} (the documents), got {n_topics!r}.")
        if embeddings is not None:
            embeddings = check_embeddings(embeddings, self.sae_.d_in if self.sae_ is not None else None)
            if embeddings.shape[0] != self.codes_.shape[0]:
                raise ValueError(f"embeddings has {embeddings.shape[0]} rows; the merger was fit on "
                                 f"{self.codes_.shape[0]} documents.")
            self._check_same_documents(embeddings)
        self._assign_atoms(int(n_topics), embeddings)
        return self

    def _check_same_documents(self, embeddings) -> None:
        """Refuse embeddings of other documents: their codes must fire the atoms the training codes fire."""
        if self.sae_ is None:
            return
        rows = np.unique(np.linspace(0, self.codes_.shape[0] - 1, min(256, self.codes_.shape[0])).astype(int))
        fresh = self.sae_.encode_csr(np.asarray(embeddings[rows], dtype=np.float32)) > 0
        stored = self.codes_[rows] > 0
        overlap = np.asarray(fresh.multiply(stored).sum(axis=1)).ravel()
        union = np.asarray((fresh + stored).astype(bool).sum(axis=1)).ravel()
        if np.mean(overlap / np.maximum(union, 1)) < 0.5:  # same documents: ~1; float16 rounding: > 0.9
            raise ValueError(
                "These embeddings are not the documents the model was fitted on (their SAE codes differ); "
                "pass the training documents' embeddings in the same order, or embeddings=None."
            )

    # ------------------------------------------------------------------ assignment
    def _mixture(self, codes: sp.csr_matrix) -> np.ndarray:
        """Topic distribution of documents: their normalised codes summed over each topic's atoms."""
        theta = normalize(codes, norm="l1")
        scores = np.asarray((theta @ self._membership).todense())
        totals = scores.sum(axis=1, keepdims=True)
        mixture = np.divide(scores, totals, out=np.zeros_like(scores), where=totals > 0)
        silent = totals.ravel() == 0
        if silent.any():  # documents no atom fires on (e.g. empty text): the topic prior
            mixture[silent] = self.topic_weights_ / max(self.topic_weights_.sum(), 1e-12)
        return mixture

    def _assign(self, codes: sp.csr_matrix, embeddings=None, *, repair_empty: bool = False):
        """``(labels, mixture)`` of documents from their codes (and embeddings, when known)."""
        mixture = self._mixture(codes)
        if getattr(self, "topic_centroids_", None) is not None:
            scores = np.vstack([points @ self.topic_centroids_.T for _, points in self._points(codes, embeddings)])
        else:
            scores = mixture
        labels = scores.argmax(axis=1)
        if repair_empty:
            labels = self._give_every_topic_a_document(labels, scores)
        return labels.astype(np.int64), mixture

    @staticmethod
    def _give_every_topic_a_document(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        # BERTopic needs topic ids 0..K-1 to all occur; an empty topic takes the document that
        # prefers it most among those whose own topic keeps other documents.
        labels = labels.copy()
        for topic in np.flatnonzero(np.bincount(labels, minlength=probabilities.shape[1]) == 0):
            counts = np.bincount(labels, minlength=probabilities.shape[1])
            candidates = np.flatnonzero(counts[labels] > 1)
            labels[candidates[np.argmax(probabilities[candidates, topic])]] = topic
        return labels

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "atom_topic_"):
            raise ValueError("This SAEAtomMerger is not fitted yet; call fit (or BERTopic.fit_transform) first.")

    def transform_codes(self, X) -> sp.csr_matrix:
        """SAE codes of new documents (embeddings are encoded; codes pass through)."""
        self._check_fitted()
        if sp.issparse(X):
            codes = sp.csr_matrix(X, dtype=np.float32)
            if codes.shape[1] != self.atom_topic_.shape[0]:
                raise ValueError(f"Got codes with {codes.shape[1]} atoms; the merger was fit on "
                                 f"{self.atom_topic_.shape[0]}.")
            return codes
        if self.sae_ is None:
            raise ValueError("This merger was fit on SAE codes; pass codes (from SAEEncoder), not embeddings.")
        return self.sae_.encode_csr(X, float16_grid=True)

    def _assign_new(self, X, embeddings=None):
        dense = embeddings if sp.issparse(X) else X
        return self._assign(self.transform_codes(X), dense)

    def predict_proba(self, X) -> np.ndarray:
        """Topic distribution ``(n, n_topics)`` of new documents (embeddings or SAE codes)."""
        return self._assign_new(X)[1]

    def predict(self, X) -> np.ndarray:
        """Topic of new documents (embeddings or SAE codes)."""
        return self._assign_new(X)[0]

    def approximate_predict(self, X) -> tuple[np.ndarray, np.ndarray]:
        """HDBSCAN-style ``(labels, strengths)``: the topic and its probability."""
        labels, probabilities = self._assign_new(X)
        return labels, probabilities[np.arange(labels.size), labels]

    def fit_predict(self, X, y=None, **fit_params) -> np.ndarray:
        return self.fit(X, y, **fit_params).labels_

    def topic_atoms(self, topic: int) -> np.ndarray:
        """Indices of the atoms merged into ``topic`` (a raw label of this merger)."""
        self._check_fitted()
        return np.flatnonzero(self.atom_topic_ == topic)

    # ------------------------------------------------------------------ persistence
    def state_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as named numpy arrays (for safetensors)."""
        self._check_fitted()
        codes = self.codes_.tocsr()
        arrays = {
            "atom_topic": self.atom_topic_,
            "atom_weights": self.atom_weights_,
            "atom_vectors": self._atom_vectors,
            "labels": self.labels_,
            **({"topic_centroids": self.topic_centroids_} if self.topic_centroids_ is not None else {}),
            "codes_data": codes.data.astype(np.float32),
            "codes_indices": codes.indices.astype(np.int64),
            "codes_indptr": codes.indptr.astype(np.int64),
            "codes_shape": np.array(codes.shape, dtype=np.int64),
        }
        if self.emission_model_ is not None:
            model = self.emission_model_
            arrays.update(emission=model.emission_, background=model.background_, idf=model.idf_,
                          emission_atom_weights=model.atom_weights_)
        if getattr(self, "counts_", None) is not None:
            counts = sp.csr_matrix(self.counts_)
            arrays.update(counts_data=counts.data.astype(np.float32), counts_indices=counts.indices.astype(np.int64),
                          counts_indptr=counts.indptr.astype(np.int64),
                          counts_shape=np.array(counts.shape, dtype=np.int64))
        return {name: np.ascontiguousarray(value) for name, value in arrays.items()}

    def state_config(self) -> dict:
        """The fitted state that is not an array (JSON-serialisable)."""
        self._check_fitted()
        config = {"n_topics_": int(self.n_topics_), "merge_": self.merge_, "input": self._input}
        if self.emission_model_ is not None:
            config["emission_params"] = self.emission_model_.get_params()
        return config

    def load_state(self, arrays: dict[str, np.ndarray], config: dict, sae: SparseAutoencoder | None) -> "SAEAtomMerger":
        """Restore a fitted merger from :meth:`state_arrays` and :meth:`state_config`."""
        self.sae_ = sae
        self.merge_, self._input = config["merge_"], config["input"]
        self.atom_weights_ = arrays["atom_weights"]
        self._atom_vectors = arrays["atom_vectors"]
        self.codes_ = sp.csr_matrix(
            (arrays["codes_data"], arrays["codes_indices"], arrays["codes_indptr"]),
            shape=tuple(int(v) for v in arrays["codes_shape"]),
        )
        self.emission_model_, self.counts_ = None, None
        if "counts_data" in arrays:
            self.counts_ = sp.csr_matrix(
                (arrays["counts_data"], arrays["counts_indices"], arrays["counts_indptr"]),
                shape=tuple(int(v) for v in arrays["counts_shape"]),
            )
        if "emission" in arrays:
            from ..tm.emission import EmissionModel

            model = EmissionModel(**config["emission_params"])
            model.emission_, model.background_ = arrays["emission"], arrays["background"]
            model.idf_, model.atom_weights_ = arrays["idf"], arrays["emission_atom_weights"]
            self.emission_model_ = model
        self._set_atom_topics(arrays["atom_topic"], int(config["n_topics_"]))
        self.topic_centroids_ = arrays.get("topic_centroids")
        self.labels_, self.probabilities_ = self._assign(self.codes_)
        self.labels_ = arrays["labels"]
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
