"""Topic words read from a fitted emission model, given the atoms' and documents' topics (stage 3's output).

* :func:`topic_word`: the paper's atom average ``P_c(w)`` over the atoms merged into each topic;
* :func:`document_topic_word`: the words the atoms emit in each topic's documents (the default reading);
* :func:`shrink_to_parents`: small topics' word distributions pulled towards their parents' (optional);
* :func:`exclusive_scores`: ranking scores that favour the topic using a word most (distinct topics).

:class:`~bertopic_sae.EmissionTopicWords` calls these with the fitted state passed explicitly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp
from scipy.cluster.hierarchy import linkage
from sklearn.utils.validation import check_is_fitted

from .._types import Labels
from ._kernels import _topic_explained

if TYPE_CHECKING:
    from .emission import EmissionModel

__all__ = ["topic_word", "document_topic_word", "shrink_to_parents", "exclusive_scores", "Parent"]

Parent = Literal["tree", "atoms"]
"""What a topic's words shrink towards (see :func:`shrink_to_parents`)."""


def topic_word(model: EmissionModel, atom_topic: Labels, n_topics: int | None = None) -> np.ndarray:
    """Merge atoms into topics: ``P_c(w) = Σ_{k∈c} θ̄_k B_kw / Σ_{k∈c} θ̄_k``.

    ``θ̄ = atom_weights_`` is the atom prior. Atoms labelled -1 are ignored. A topic whose atoms
    all have zero prior weight averages them uniformly; a topic with no atoms gets a zero row.

    Arguments:
        atom_topic: ``(n_atoms,)`` integer topic of each atom, or -1.
        n_topics: number of topics (rows); default ``max(atom_topic) + 1``.

    Returns:
        ``(n_topics, n_words)`` array; rows of non-empty topics sum to 1.

    Usage:

    ```python
    labels = KMeans(50).fit_predict(atom_vectors)   # one label per atom
    words = topic_word(model, labels)                 # (50, n_words)
    ```
    """
    check_is_fitted(model, "emission_")
    labels = np.asarray(atom_topic)
    n_atoms = model.emission_.shape[0]
    if labels.shape != (n_atoms,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"atom_topic must be an integer array of length {n_atoms} (one topic id per atom, -1 to "
            f"skip), got dtype {labels.dtype} and shape {labels.shape}."
        )
    if labels.size and labels.min() < -1:
        raise ValueError("atom_topic may only contain topic ids >= 0, or -1 for atoms to ignore.")
    if n_topics is None:
        n_topics = int(labels.max()) + 1 if labels.size else 0
    elif labels.size and labels.max() >= n_topics:
        raise ValueError(f"atom_topic has topic id {labels.max()} but n_topics={n_topics}; raise n_topics.")
    keep = labels >= 0
    weights = model.atom_weights_[keep]
    topics = labels[keep]
    mass = np.bincount(topics, weights=weights, minlength=n_topics)
    size = np.bincount(topics, minlength=n_topics)
    # Zero-mass topics fall back to a plain average of their atoms.
    weights = np.where(mass[topics] > 0, weights, 1.0)
    norm = np.where(mass > 0, mass, size)[topics]
    merge = sp.csr_matrix((weights / norm, (topics, np.flatnonzero(keep))), shape=(n_topics, n_atoms))
    return np.asarray(merge @ model.emission_.astype(np.float64))


def document_topic_word(
    model: EmissionModel,
    theta,
    counts,
    atom_topic,
    doc_topic,
    n_topics: int | None = None,
    *,
    binary: bool = True,
    idf_weighted: bool = True,
    share_prior: float = 10.0,
    background_tokens: float = 0.0,
    weight_documents: bool = False,
    parent_prior: float = 0.0,
    parent: Parent = "tree",
) -> np.ndarray:
    """Topic words read off the topic's documents: the tokens its atoms emit there.

    ``P_c(w) ∝ Σ_{d∈c} w_w b_dw (1-π) Σ_k P(c|k) θ_dk B_kw / q_dw``: each document of topic
    ``c`` that uses word ``w`` (``b_dw = 1``; with ``binary=False`` its count ``n_dw``) contributes
    the E-step's share of that word that the atoms (not the background) explain, with the fit's IDF
    weight ``w_w``. Each atom counts with ``P(c|k) = (Σ_{d∈c} θ_dk + β s_c) / (Σ_d θ_dk + β)``, the
    share of its activation that falls in ``c``'s documents, shrunk towards ``s_c``, ``c``'s share of
    the documents, with the weight of ``β = share_prior`` documents. Generic atoms, spread
    over many topics, thus lend each topic little; atoms specific to ``c`` count fully, but only
    once they carry more than a few documents' worth of activation: an atom active in one or two
    documents is about as specific to their topic as the rare words it was fitted to, and unshrunk
    it fills small topics with those words. Unlike :meth:`topic_word` (the paper's atom average)
    a topic keeps the words its documents actually use, so topics with few atoms are not thin;
    counting documents rather than tokens keeps one document's repeated name from outweighing
    words the topic's documents share. A topic whose documents no atom explains falls
    back to :meth:`topic_word`.

    Arguments:
        model: the fitted emission model.
        theta: ``(n_docs, n_atoms)`` SAE codes of the documents (rows are L1-normalised here).
        counts: ``(n_docs, n_words)`` word counts of the same documents.
        atom_topic: ``(n_atoms,)`` topic of each atom, -1 for none (used for the fallback only).
        doc_topic: ``(n_docs,)`` topic of each document, -1 for none.
        n_topics: number of rows; default one more than the largest topic id.
        binary: count documents that use a word (default) instead of its tokens.
        idf_weighted: weight words with the fit's IDF weights ``w_w`` (default); ``False``: ``w_w = 1``.
        share_prior: ``β``, in documents (each document's θ sums to 1); 0 gives the plain activation share.
        background_tokens: ``λ`` in [0, 1], weight of the share of each word the background unigram explains.
        weight_documents: count each document with ``P(c|d)`` (default ``False``: every document fully).
        parent_prior: ``τ``, in tokens: shrink each topic's words towards its parent's with the weight of
            ``τ`` tokens against the ``n_c`` tokens of its documents (:func:`shrink_to_parents`); 0: off.
        parent: ``"tree"`` (the topic tree of these rows) or ``"atoms"`` (the topic's atom average).

    Measurements behind the defaults: ``benchmarks/README.md`` ("Topic words").

    Returns:
        ``(n_topics, n_words)`` array; rows of topics with documents or atoms sum to 1.

    Usage:

    ```python
    words = document_topic_word(model, codes, counts, merger.atom_topic_, merger.labels_)
    ```
    """
    check_is_fitted(model, "emission_")
    theta, counts = model._check_data(theta, counts, fitting=False)
    atom_topic = np.asarray(atom_topic, dtype=np.int64)
    doc_topic = np.asarray(doc_topic, dtype=np.int64)
    if atom_topic.shape != (theta.shape[1],) or doc_topic.shape != (theta.shape[0],):
        raise ValueError(
            f"atom_topic needs one topic per atom ({theta.shape[1]}) and doc_topic one per document "
            f"({theta.shape[0]}); got shapes {atom_topic.shape} and {doc_topic.shape}."
        )
    if n_topics is None:
        n_topics = int(max(atom_topic.max(initial=-1), doc_topic.max(initial=-1))) + 1
    elif doc_topic.max(initial=-1) >= n_topics:
        raise ValueError(f"doc_topic has topic id {doc_topic.max()} but n_topics={n_topics}; raise n_topics.")
    if not 0 <= background_tokens <= 1:
        raise ValueError(
            f"background_tokens must be in [0, 1] (weight of background-explained tokens), got "
            f"{background_tokens}; 0 keeps only the words the atoms emit."
        )
    if not share_prior >= 0:
        raise ValueError(
            f"share_prior must be >= 0 (documents), got {share_prior}; 0 disables the shrinkage."
        )
    _check_parent(parent_prior, parent)
    used = doc_topic >= 0
    if weight_documents:  # P(c|d) = Σ_{k∈c} θ_dk, the share of a document's activation on its topic
        row_of = np.repeat(np.arange(theta.shape[0]), np.diff(theta.indptr))
        own = atom_topic[theta.indices] == doc_topic[row_of]
        weights = np.bincount(row_of[own], theta.data[own], minlength=theta.shape[0])[used]
    else:
        weights = np.ones(used.sum())
    members = sp.csr_matrix(
        (weights, (doc_topic[used], np.flatnonzero(used))), shape=(n_topics, counts.shape[0])
    )
    mass = np.asarray((members @ theta).todense()).T  # (n_atoms, n_topics)
    sizes = np.asarray(members.sum(axis=1)).ravel()
    prior = share_prior * sizes / max(sizes.sum(), 1.0)
    share = (mass + prior) / np.maximum(mass.sum(axis=1, keepdims=True) + prior.sum(), 1e-300)  # P(c | k)
    wn = np.ones_like(counts.data) if binary else counts.data.copy()
    if idf_weighted:
        wn *= model.idf_[counts.indices]
    explained = np.empty_like(wn)
    _topic_explained(
        theta.indptr, theta.indices, theta.data, counts.indptr, counts.indices, wn, model.emission_,
        model.background_, float(model.background_weight), share, float(background_tokens), doc_topic,
        explained,
    )  # fmt: skip
    explained = sp.csr_matrix((explained, counts.indices, counts.indptr), shape=counts.shape)
    rows = np.asarray((members @ explained).todense())
    mass = rows.sum(axis=1, keepdims=True)
    empty = mass.ravel() <= 0
    atoms = None
    if empty.any() or (parent_prior > 0 and parent == "atoms"):
        atoms = topic_word(model, np.where(atom_topic < n_topics, atom_topic, -1), n_topics)
        rows[empty] = atoms[empty]
        mass = rows.sum(axis=1, keepdims=True)
    if parent_prior > 0:
        tokens = np.where(empty, 0.0, members @ np.asarray(counts.sum(axis=1)).ravel())
        return shrink_to_parents(rows, tokens, parent_prior, parent, atom_rows=atoms)
    return np.divide(rows, mass, out=np.zeros_like(rows), where=mass > 0)


def _check_parent(parent_prior: float, parent: str) -> None:
    if not parent_prior >= 0 or not np.isfinite(parent_prior):
        raise ValueError(
            f"parent_prior must be a finite number >= 0 (tokens), got {parent_prior}; 0 disables the "
            "shrinkage towards the parent topic."
        )
    if parent not in ("tree", "atoms"):
        raise ValueError(f"parent must be 'tree' or 'atoms', got {parent!r}.")


def shrink_to_parents(
    rows: np.ndarray,
    tokens: np.ndarray,
    parent_prior: float,
    parent: Parent = "tree",
    *,
    atom_rows: np.ndarray | None = None,
) -> np.ndarray:
    """Posterior-mean topic words: ``p_c = (n_c p̂_c + τ p_parent(c)) / (n_c + τ)``.

    ``p̂_c`` is row ``c`` normalised, ``n_c`` the evidence of topic ``c`` (its documents' tokens) and
    ``τ = parent_prior`` the weight of the parent, so a topic of few documents borrows its parent's
    words and a large one keeps its own.

    ``parent="tree"``: the parents are the nodes of an average-linkage tree of the topics (cosine
    distance between their rows). A node's evidence is the sum of its children's, its ``p̂`` their
    evidence-weighted mixture, and each node is itself shrunk towards its own parent from the root
    down, so a small topic inherits from the nearest group of topics that has the evidence.
    ``parent="atoms"``: the parent of ``c`` is ``atom_rows[c]``, the atom average of its atoms
    (:func:`topic_word`), i.e. the words its atoms emit over every document. Topics without evidence
    (``n_c = 0``) or with an all-zero row are returned normalised, not shrunk.

    Arguments:
        rows: ``(n_topics, n_words)`` non-negative word weights of each topic (unnormalised).
        tokens: ``(n_topics,)`` evidence ``n_c`` of each topic, in the unit of ``parent_prior``.
        parent_prior: ``τ >= 0``; 0 returns the normalised rows.
        parent: ``"tree"`` or ``"atoms"``.
        atom_rows: ``(n_topics, n_words)`` parent rows for ``parent="atoms"`` (rows sum to 1 or 0).

    Returns:
        ``(n_topics, n_words)`` array; non-zero rows sum to 1.

    Usage:

    ```python
    words = shrink_to_parents(rows, tokens_per_topic, parent_prior=300)
    ```
    """
    _check_parent(parent_prior, parent)
    rows = np.asarray(rows, dtype=np.float64)
    tokens = np.asarray(tokens, dtype=np.float64)
    if tokens.shape != (rows.shape[0],) or (tokens < 0).any():
        raise ValueError(
            f"tokens needs one non-negative count per topic ({rows.shape[0]}), got shape {tokens.shape}."
        )
    mass = rows.sum(axis=1, keepdims=True)
    out = np.divide(rows, mass, out=np.zeros_like(rows), where=mass > 0)
    live = np.flatnonzero((tokens > 0) & (mass.ravel() > 0))
    if parent_prior == 0 or live.size == 0:
        return out
    n = tokens[live, None]
    if parent == "atoms":
        if atom_rows is None or atom_rows.shape != rows.shape:
            raise ValueError(f"parent='atoms' needs atom_rows of shape {rows.shape} (the atom average).")
        prior = np.asarray(atom_rows[live], dtype=np.float64)
        has = prior.sum(axis=1) > 0  # a topic without atoms keeps its own words
        shrunk = (n * out[live] + parent_prior * prior) / (n + parent_prior)
        out[live[has]] = shrunk[has]
        return out
    if live.size < 2:
        return out
    # Node ids as scipy numbers them: leaves 0..m-1 (the live topics), then m + i for merge i.
    m = live.size
    tree = linkage(out[live], method="average", metric="cosine")
    node_rows = np.concatenate([out[live] * n, np.zeros((m - 1, rows.shape[1]))])  # in tokens
    node_tokens = np.concatenate([tokens[live], np.zeros(m - 1)])
    up = np.full(2 * m - 1, -1)
    for i, (a, b) in enumerate(tree[:, :2].astype(np.int64)):
        node_rows[m + i] = node_rows[a] + node_rows[b]
        node_tokens[m + i] = node_tokens[a] + node_tokens[b]
        up[a] = up[b] = m + i
    node_rows /= node_rows.sum(axis=1, keepdims=True)
    for node in range(2 * m - 3, -1, -1):  # parents have larger ids: the root down
        weight = node_tokens[node]
        node_rows[node] = (weight * node_rows[node] + parent_prior * node_rows[up[node]]) / (
            weight + parent_prior
        )
    out[live] = node_rows[:m]
    return out


def exclusive_scores(rows: np.ndarray, exclusivity: float) -> np.ndarray:
    """Ranking scores ``s_c(w) ∝ p_c(w) (p_c(w) / max_j p_j(w))^α`` of every topic's words.

    Within a topic, a word it uses most of all topics keeps its weight; a word some other topic uses ``r``
    times more is weighted down by ``r^α``, so neighbouring topics stop sharing their top words (higher
    topic diversity). Each row is rescaled to keep its sum (distributions stay distributions).
    ``α = exclusivity``; 0 returns the rows unchanged.

    Arguments:
        rows: ``(n_topics, n_words)`` non-negative word weights of the topics ranked against each other.
        exclusivity: ``α >= 0``.

    Returns:
        ``(n_topics, n_words)`` scores, each row with the sum of the input row.

    Usage:

    ```python
    scores = exclusive_scores(topic_word(model, labels), exclusivity=1.0)
    ```
    """
    if not exclusivity >= 0 or not np.isfinite(exclusivity):
        raise ValueError(f"exclusivity must be a finite number >= 0, got {exclusivity}; 0 disables it.")
    rows = np.asarray(rows, dtype=np.float64)
    if exclusivity == 0 or rows.size == 0:
        return rows
    strongest = rows.max(axis=0)
    ratio = np.divide(rows, strongest, out=np.zeros_like(rows), where=strongest > 0)
    scores = rows * ratio**exclusivity
    total, kept = rows.sum(axis=1, keepdims=True), scores.sum(axis=1, keepdims=True)
    return np.divide(scores * total, kept, out=np.zeros_like(rows), where=kept > 0)
