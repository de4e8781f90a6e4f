"""``bertopic_sae.BERTopic``: the real BERTopic with a ``clustering_model=`` argument; it composes the stages.

Everything is stock BERTopic except where the SAE pipeline needs more than BERTopic's slots give (every
private BERTopic method used is listed, with its reason, in ``_bertopic_private.py``):

(Over 400 lines: each method overrides one BERTopic method; keeping them in one class keeps every
deviation from stock BERTopic in one place.)

* The stages are composed here: the SAE is resolved (or trained) and the emission model fitted on the
  documents' words (:func:`bertopic_sae.tm.state.fit_stages`); the result, a
  :class:`~bertopic_sae.tm.state.FittedStages`, is passed explicitly to the merger and the topic words.

* ``clustering_model=`` is an alias of the ``hdbscan_model`` slot. With an :class:`SAEAtomMerger`
  there and no ``umap_model``, UMAP does not run: the merger reads the full embeddings.
* BERTopic hands the clustering slot only embeddings; the paper's merge also needs the documents'
  words, so the clustering step passes the merger the bag of words and the vocabulary's word vectors.
* Topic words come from the emission matrix (:class:`EmissionTopicWords` in ``ctfidf_model``),
  over the vocabulary fitted on the documents, not on BERTopic's per-topic concatenations.
* ``transform`` returns the topic distribution from the SAE codes; ``save`` with safetensors or
  pytorch also writes the SAE, the merger and the emission model, and :meth:`BERTopic.load` puts
  them back, so predictions after a reload are identical.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from bertopic import BERTopic as _BERTopic
from bertopic.backend import BaseEmbedder
from bertopic.dimensionality import BaseDimensionalityReduction

from .. import _io
from ..sae.model import SparseAutoencoder, check_embeddings
from ..sae.resolve import embedding_model_name
from ..tm.state import FittedStages, fit_emission, fit_stages, stages_from_arrays, stages_to_arrays
from ..tm.vocabulary import default_vectorizer
from ._bertopic_private import AlreadyFitted, TopicMapper, check_documents_type, check_is_fitted
from .encoder import SAEEncoder
from .merger import SAEAtomMerger
from .representation import EmissionTopicWords

__all__ = ["BERTopic"]

logger = logging.getLogger(__name__)

SAE_DIR = "sae"
MERGER_TENSORS = "sae_merger.safetensors"
MERGER_CONFIG = "sae_merger.json"

_WORD_VECTOR_CACHE: dict[str, np.ndarray] = {}


def _check_documents(documents) -> None:
    """Refuse an empty corpus and documents that are not strings, naming the first bad one."""
    if isinstance(documents, str):
        raise TypeError("documents must be a list of strings, got one string; wrap it: [text].")
    if len(documents) == 0:
        raise ValueError("No documents: pass a non-empty list of strings.")
    for index, document in enumerate(documents):
        if not isinstance(document, str):
            raise TypeError(f"Document {index} is {type(document).__name__} ({document!r:.40}), not a "
                            "string; pass every document as text ('' for an empty one).")


def _check_count(documents, embeddings) -> None:
    if embeddings is not None and np.shape(embeddings)[0] != len(documents):
        raise ValueError(f"Got {len(documents)} documents but {np.shape(embeddings)[0]} embeddings; pass one "
                         "embedding per document, in the same order.")


class BERTopic(_BERTopic):
    """BERTopic with sparse-autoencoder topics.

    Takes every argument of ``bertopic.BERTopic`` plus ``clustering_model`` (an alias of
    ``hdbscan_model``; pass one of the two). With ``clustering_model=SAEAtomMerger(...)`` the
    defaults become the SAE-TM pipeline: no UMAP, the paper's vocabulary
    (:func:`~bertopic_sae.default_vectorizer`), and emission topic words
    (:class:`~bertopic_sae.EmissionTopicWords`). Any other clustering model behaves as in BERTopic.

    Usage:

    ```python
    from bertopic_sae import BERTopic, SAEAtomMerger
    topic_model = BERTopic(clustering_model=SAEAtomMerger(n_topics=20), embedding_model=sentence_model)
    topics, probs = topic_model.fit_transform(docs)
    topic_model.visualize_barchart()
    topic_model.save("model", serialization="safetensors")
    same = BERTopic.load("model", embedding_model=sentence_model)
    ```
    """

    def __init__(
        self,
        language: str = "english",
        top_n_words: int = 10,
        n_gram_range: tuple[int, int] = (1, 1),
        min_topic_size: int = 10,
        nr_topics: int | str | None = None,
        low_memory: bool = False,
        calculate_probabilities: bool = False,
        seed_topic_list: list[list[str]] | None = None,
        zeroshot_topic_list: list[str] | None = None,
        zeroshot_min_similarity: float = 0.7,
        embedding_model=None,
        umap_model=None,
        hdbscan_model=None,
        vectorizer_model=None,
        ctfidf_model=None,
        representation_model=None,
        verbose: bool = False,
        clustering_model=None,
    ):
        if clustering_model is not None and hdbscan_model is not None:
            raise ValueError(
                "Pass either clustering_model or hdbscan_model (they are the same slot), not both."
            )
        clustering = clustering_model if clustering_model is not None else hdbscan_model
        if isinstance(clustering, SAEAtomMerger):
            if vectorizer_model is None and language != "english":
                raise ValueError(
                    f"language={language!r}: the default vocabulary removes English stop words only. Pass "
                    "vectorizer_model=default_vectorizer(stop_words=[...your language's stop words...]) (or "
                    "stop_words=None), and an embedding_model for the language."
                )
            umap_model = umap_model if umap_model is not None else BaseDimensionalityReduction()
            ctfidf_model = ctfidf_model if ctfidf_model is not None else EmissionTopicWords()
            if vectorizer_model is None:
                vectorizer_model = default_vectorizer(ngram_range=tuple(n_gram_range), min_df="auto")
        super().__init__(
            language=language,
            top_n_words=top_n_words,
            n_gram_range=n_gram_range,
            min_topic_size=min_topic_size,
            nr_topics=nr_topics,
            low_memory=low_memory,
            calculate_probabilities=calculate_probabilities,
            seed_topic_list=seed_topic_list,
            zeroshot_topic_list=zeroshot_topic_list,
            zeroshot_min_similarity=zeroshot_min_similarity,
            embedding_model=embedding_model,
            umap_model=umap_model,
            hdbscan_model=clustering,
            vectorizer_model=vectorizer_model,
            ctfidf_model=ctfidf_model,
            representation_model=representation_model,
            verbose=verbose,
        )

    @property
    def clustering_model(self):
        """The clustering component (BERTopic calls this slot ``hdbscan_model``)."""
        return self.hdbscan_model

    @clustering_model.setter
    def clustering_model(self, value) -> None:
        self.hdbscan_model = value

    # ------------------------------------------------------------------ helpers
    def _sae_merger(self) -> SAEAtomMerger | None:
        return self.hdbscan_model if isinstance(self.hdbscan_model, SAEAtomMerger) else None

    def _stages(self) -> FittedStages | None:
        """The fitted SAE and emission stages (None before fitting or without an SAEAtomMerger)."""
        stages = getattr(self, "sae_stages_", None)
        if stages is None and self._sae_merger() is not None:  # a model pickled before stages_ existed
            stages = getattr(self.hdbscan_model, "stages_", None)
        return stages

    def _emission(self):
        """The emission model when topic words should come from it, else None."""
        stages = None if self._sae_merger() is None else self._stages()
        model = None if stages is None else stages.emission
        if model is None or not isinstance(self.ctfidf_model, EmissionTopicWords):
            return None
        vocabulary = getattr(self.vectorizer_model, "vocabulary_", None)
        if vocabulary is None or len(vocabulary) != model.emission_.shape[1]:
            return None
        return model

    def _current_atom_topics(self) -> np.ndarray:
        """Topic id (as BERTopic numbers topics now) of every atom; -1 for unused atoms."""
        mapping = self.topic_mapper_.get_mappings(original_topics=True)
        merger = self._sae_merger()
        if merger is None:
            raise ValueError("Atom topics need an SAEAtomMerger as clustering_model.")
        raw = merger.atom_topic_
        return np.array([mapping.get(int(t), -1) if t >= 0 else -1 for t in raw], dtype=np.int64)

    def _embedding_model_name(self) -> str | None:
        """Hub id or local folder of the embedding model, to find a shipped SAE for it."""
        return embedding_model_name(self.embedding_model)

    def _word_vectors(self, words: list[str]) -> np.ndarray | None:
        """Vectors of the vocabulary words from the embedding model.

        Embedding thousands of words takes a while on a CPU, so for sentence-transformers models they
        are cached on disk (:func:`bertopic_sae.data.embed`), and for other backends in memory.
        """
        if self.embedding_model is None:
            return None
        from sentence_transformers import SentenceTransformer

        from ..data import embed

        model = getattr(self.embedding_model, "embedding_model", None)
        if isinstance(model, SentenceTransformer):
            return embed(list(words), model, show_progress_bar=self.verbose)
        key = hashlib.sha1(
            ("\n".join([str(self._embedding_model_name())] + list(words))).encode()
        ).hexdigest()
        if key not in _WORD_VECTOR_CACHE:
            vectors = self._extract_embeddings(list(words), method="word", verbose=False)
            _WORD_VECTOR_CACHE.clear()  # keep one vocabulary: a 5,000-word table is ~8 MB
            _WORD_VECTOR_CACHE[key] = np.asarray(vectors, dtype=np.float32)
        return _WORD_VECTOR_CACHE[key]

    # ------------------------------------------------------------------ fitting
    def fit_transform(self, documents, embeddings=None, images=None, y=None):
        merger = self._sae_merger()
        if merger is not None and documents is not None:
            _check_documents(documents)
            check_documents_type(documents)
            _check_count(documents, embeddings)
            if embeddings is None and self.embedding_model is None:
                raise ValueError(
                    "No embeddings and no embedding_model: pass embeddings=... or "
                    "BERTopic(embedding_model=...). "
                    "(BERTopic's default model is downloaded from the Hugging Face Hub.)"
                )
            if embeddings is not None:  # BERTopic would silently turn NaN into 0 before clustering
                check_embeddings(embeddings)
            if y is not None and self.seed_topic_list is None and (np.asarray(y) >= 0).all():
                warnings.warn(
                    "SAEAtomMerger merges atoms without supervision and ignores the labels y. For supervised "
                    "topics use BERTopic's BaseCluster (manual topic modelling).",
                    UserWarning,
                    stacklevel=2,
                )
        return super().fit_transform(documents, embeddings=embeddings, images=images, y=y)

    def _reduce_dimensionality(self, embeddings, y=None, partial_fit=False):
        self._raw_embeddings = embeddings if self._sae_merger() is not None else None
        if isinstance(self.umap_model, SAEEncoder) and not partial_fit:
            self.umap_model.fit(embeddings, embedding_model_name=self._embedding_model_name())
            return self.umap_model.transform(embeddings)
        return super()._reduce_dimensionality(embeddings, y=y, partial_fit=partial_fit)

    def _clean_text(self, documents) -> list[str]:
        """BERTopic's text cleaning, but an empty document stays empty (BERTopic writes "emptydoc", which
        would become a topic word)."""
        cleaned = self._preprocess_text(documents)
        pairs = zip(documents, cleaned, strict=True)
        return ["" if not str(original).strip() else text for original, text in pairs]

    def partial_fit(self, documents, embeddings=None, y=None):
        """As in BERTopic; with an SAEAtomMerger ``probabilities_`` covers every document seen so far
        (BERTopic's own online clusterers leave it None), in the order of the batches."""
        merger = self._sae_merger()
        previous = getattr(self, "probabilities_", None) if hasattr(merger, "atom_topic_") else None
        super().partial_fit(documents, embeddings=embeddings, y=y)
        if merger is not None and previous is not None and self.probabilities_ is not None:
            self.probabilities_ = np.vstack([previous, self.probabilities_])
        return self

    def _cluster_embeddings(self, umap_embeddings, documents, partial_fit=False, y=None):
        merger = self._sae_merger()
        if merger is not None and partial_fit and not hasattr(merger, "atom_topic_"):
            # The first batch fixes the atoms; BERTopic's partial_fit would call merger.partial_fit without
            # the embedding model's name, and sae="auto" would train a new SAE on one batch.
            stages = fit_stages(umap_embeddings, sae=merger.sae,
                                embedding_model_name=self._embedding_model_name(), **merger.stage_params())
            merger.fit(umap_embeddings, stages=stages)
            self.sae_stages_ = stages
            # BERTopic numbers a topic first seen in a later batch anew, so the first batch must hold all.
            return self._cluster_with_fitted(merger, umap_embeddings, documents, partial_fit=True, y=y)
        if merger is None or partial_fit:
            return super()._cluster_embeddings(umap_embeddings, documents, partial_fit=partial_fit, y=y)
        bow, word_vectors = None, None
        if documents.Document.values[0] is not None:  # text, not images only
            try:
                bow = self.vectorizer_model.fit_transform(self._clean_text(documents.Document.values))
            except ValueError as err:
                if "empty vocabulary" not in str(err):
                    raise
                raise ValueError(
                    "The vectorizer found no words in these documents (the default vocabulary keeps words of "
                    "3+ letters of any script, minus English stop words, in at least min_df documents). Pass "
                    "vectorizer_model=CountVectorizer(...) with a token_pattern or tokenizer that fits this "
                    "text (e.g. a word segmenter for Chinese or Japanese)."
                ) from None
            if merger.merge != "decoder":
                word_vectors = self._word_vectors(self.vectorizer_model.get_feature_names_out())
        guided_y = None if self.seed_topic_list is not None else y
        sae = merger.sae
        if isinstance(self.umap_model, SAEEncoder) and hasattr(self.umap_model, "sae_"):
            sae = self.umap_model.sae_  # the codes come from the encoder's SAE: keep it (and save it)
        stages = fit_stages(umap_embeddings, sae=sae, bow=bow,
                            embedding_model_name=self._embedding_model_name(), **merger.stage_params())
        raw = getattr(self, "_raw_embeddings", None)
        self._raw_embeddings = None
        merger.fit(umap_embeddings, y=guided_y, stages=stages, word_vectors=word_vectors,
                   embeddings=raw if sp.issparse(umap_embeddings) else None)
        self.sae_stages_ = stages
        return self._cluster_with_fitted(merger, umap_embeddings, documents, partial_fit=False, y=y)

    def _cluster_with_fitted(self, merger, umap_embeddings, documents, partial_fit, y):
        """BERTopic's clustering step around a merger fitted here (it must not be fitted again)."""
        self.hdbscan_model = AlreadyFitted(merger)
        try:
            return super()._cluster_embeddings(umap_embeddings, documents, partial_fit=partial_fit, y=y)
        finally:
            self.hdbscan_model = merger

    def _c_tf_idf(self, documents_per_topic: pd.DataFrame, fit: bool = True, partial_fit: bool = False):
        emission = None if partial_fit else self._emission()
        if emission is None:
            return super()._c_tf_idf(documents_per_topic, fit=fit, partial_fit=partial_fit)
        # The vocabulary stays the one the emission matrix was learned on.
        words = self.vectorizer_model.get_feature_names_out()
        topics = documents_per_topic.Topic.to_numpy().astype(np.int64)
        atom_topic = self._current_atom_topics()
        if fit:
            self.ctfidf_model.fit_emission(emission, self._seed_multiplier(words))
            return self.ctfidf_model.topic_rows(
                emission, atom_topic, topics, self._training_documents()
            ), words
        counts = self.vectorizer_model.transform(self._clean_text(documents_per_topic.Document.values))
        return self.ctfidf_model.slice_rows(emission, counts, atom_topic, topics), words

    def _training_documents(self) -> tuple | None:
        """(codes, counts, current topic of each document) of the training documents, when known."""
        stages = self._stages()
        counts = None if stages is None else stages.counts
        topics = getattr(self, "topics_", None)
        if stages is None or counts is None or topics is None or len(topics) != counts.shape[0]:
            return None
        return stages.codes, counts, np.asarray(topics, dtype=np.int64)

    def _seed_multiplier(self, words) -> np.ndarray | None:
        seeds = set(self.ctfidf_model.seed_words or [])
        guided = {w for topic in (self.seed_topic_list or []) for w in topic}
        if not seeds and not guided:
            return None
        return np.array(
            [1.2 if w in guided else self.ctfidf_model.seed_multiplier if w in seeds else 1.0 for w in words]
        )

    def _save_representative_docs(self, documents: pd.DataFrame) -> None:
        merger = self._sae_merger()
        probabilities = getattr(merger, "probabilities_", None)
        if probabilities is None or probabilities.shape[0] != len(documents) or "ID" not in documents:
            return super()._save_representative_docs(documents)
        # The documents a topic's atoms explain best (one sparse product instead of re-vectorising).
        mapped = self._map_probabilities(probabilities, original_topics=True)
        topics = documents.Topic.to_numpy()
        texts = documents.Document.to_numpy()
        representative = {}
        for topic in sorted(set(topics)):
            members = np.flatnonzero(topics == topic)
            if topic < 0 or topic >= mapped.shape[1]:
                representative[int(topic)] = list(texts[members[:3]])
                continue
            written = members[[bool(str(text).strip()) for text in texts[members]]]
            members = written if written.size else members  # a blank document says nothing about a topic
            best = members[np.argsort(-mapped[members, topic], kind="stable")[:3]]
            representative[int(topic)] = list(texts[best])
        self.representative_docs_ = representative

    # ------------------------------------------------------------------ prediction
    def transform(self, documents, embeddings=None, images=None):
        """Topic of new documents and their topic distribution ``(n, n_topics)`` from the SAE codes."""
        merger = self._sae_merger()
        if merger is None or not hasattr(merger, "atom_topic_"):
            return super().transform(documents, embeddings=embeddings, images=images)
        check_is_fitted(self)
        if isinstance(documents, str) or documents is None:
            documents = [documents]
        _check_count(documents, embeddings)
        if embeddings is None:
            if self.embedding_model is None or type(self.embedding_model) is BaseEmbedder:
                raise ValueError(
                    "No embedding model to embed the documents: pass embeddings=..., or "
                    "BERTopic.load(path, embedding_model=...)."
                )
            embeddings = self._extract_embeddings(
                documents, images=images, method="document", verbose=self.verbose
            )
        check_embeddings(embeddings)
        reduced = self.umap_model.transform(embeddings)
        labels, probabilities = merger.assign(reduced, embeddings)
        return self._map_predictions(labels), self._map_probabilities(probabilities, original_topics=True)

    def get_document_info(self, docs, df=None, metadata=None):
        """BERTopic's table, where ``Probability`` is the probability of the document's own topic.

        With an :class:`SAEAtomMerger` a document's topic is the nearest topic centroid while
        ``probabilities_`` is its topic mixture (the share of its SAE activation on each topic's atoms), so
        for some documents the largest mixture entry is another topic; ``Top_Mixture_Topic`` shows it.
        """
        info = super().get_document_info(docs, df=df, metadata=metadata)
        probabilities = getattr(self, "probabilities_", None)
        if self._sae_merger() is None or probabilities is None or np.ndim(probabilities) != 2 or \
                len(probabilities) != len(info):
            return info
        topics = info["Topic"].to_numpy()
        inside = (topics >= 0) & (topics < probabilities.shape[1])
        own = probabilities[np.arange(len(topics)), np.clip(topics, 0, probabilities.shape[1] - 1)]
        info["Probability"] = np.where(inside, own, 0.0)
        info["Top_Mixture_Topic"] = probabilities.argmax(axis=1)
        return info

    def set_n_topics(self, docs: list[str], n_topics: int, embeddings=None, images=None) -> BERTopic:
        """Re-merge the SAE atoms into ``n_topics`` topics (more or fewer), as the paper does.

        Needs no SAE or emission retraining: k-means over the atoms and a re-assignment of the
        training documents (``docs``, the documents the model was fitted on; pass their ``embeddings``
        too for the most faithful assignment, else the SAE reconstructions stand in for them).
        BERTopic's own ``reduce_topics`` still works too; it merges existing topics and can only
        lower the count.
        """
        merger = self._sae_merger()
        if merger is None or not hasattr(merger, "codes_"):
            raise ValueError("set_n_topics needs a fitted SAEAtomMerger as clustering_model.")
        check_documents_type(docs)
        if len(docs) != merger.codes_.shape[0]:
            raise ValueError(
                f"Pass the {merger.codes_.shape[0]} documents the model was fitted on (got {len(docs)})."
            )
        merger.merge_atoms(n_topics, embeddings)
        documents = pd.DataFrame(
            {"Document": docs, "ID": range(len(docs)), "Topic": merger.labels_, "Image": images}
        )
        self._update_topic_size(documents)
        self.topic_mapper_ = TopicMapper(self.topics_)
        documents = self._sort_mappings_by_frequency(documents)
        if embeddings is None and merger.sae_ is not None:
            embeddings = merger.sae_.decode_numpy(merger.codes_)
        self._extract_topics(documents, embeddings=embeddings, verbose=self.verbose)
        self._save_representative_docs(documents)
        self.probabilities_ = self._map_probabilities(merger.probabilities_, original_topics=True)
        return self

    @classmethod
    def from_fitted(cls, documents: list[str], merger: SAEAtomMerger, vectorizer_model, *,
                    embedding_model=None, topic_embeddings: np.ndarray | None = None, verbose: bool = False,
                    **params) -> BERTopic:
        """A fitted model around a merger fitted outside :meth:`fit_transform` (the sharded, data-parallel
        fit of :mod:`bertopic_sae.components.sharded`), without refitting anything.

        Arguments:
            documents: the training documents, in the order of the merger's codes.
            merger: a fitted SAEAtomMerger (its stages hold the codes, counts and emission model).
            vectorizer_model: the fitted vectorizer of the emission model's vocabulary.
            embedding_model: the embedding model, for ``transform`` on texts.
            topic_embeddings: ``(n_topics, dim)`` mean embedding of each topic's documents (by merger label);
                None: BERTopic's word-based topic vectors.
            verbose: progress messages.
            **params: other ``BERTopic`` arguments.
        """
        if merger.codes_.shape[0] != len(documents):
            raise ValueError(
                f"{len(documents)} documents but the merger was fitted on {merger.codes_.shape[0]}."
            )
        model = cls(clustering_model=merger, embedding_model=embedding_model,
                    vectorizer_model=vectorizer_model, verbose=verbose, **params)
        if embedding_model is not None:
            from bertopic.backend._utils import select_backend

            model.embedding_model = select_backend(embedding_model, language=model.language)
        model.sae_stages_ = merger.stages_
        frame = pd.DataFrame({"Document": documents, "ID": range(len(documents)), "Topic": merger.labels_,
                              "Image": None})
        model._update_topic_size(frame)  # the steps of fit_transform after the clustering, as set_n_topics
        model.topic_mapper_ = TopicMapper(model.topics_)
        frame = model._sort_mappings_by_frequency(frame)
        model._extract_topics(frame, embeddings=None, verbose=verbose)
        model._save_representative_docs(frame)
        model.probabilities_ = model._map_probabilities(merger.probabilities_, original_topics=True)
        if topic_embeddings is not None:  # rows by raw label -> rows by the model's (sorted) topic ids
            mapping = model.topic_mapper_.get_mappings(original_topics=True)
            order = sorted(mapping, key=mapping.get)
            model.topic_embeddings_ = np.asarray(topic_embeddings)[order]
        return model

    def update_topics(
        self,
        docs,
        images=None,
        topics=None,
        top_n_words=10,
        n_gram_range=None,
        vectorizer_model=None,
        ctfidf_model=None,
        representation_model=None,
    ):
        """As in BERTopic, but keeps the emission topic words unless another ``ctfidf_model`` is given.

        With a new ``vectorizer_model`` (or ``n_gram_range``) the emission matrix is re-learned on the
        new vocabulary from the stored SAE codes of the training documents.
        """
        merger = self._sae_merger()
        stages = self._stages() if merger is not None else None
        if stages is None or stages.emission is None or ctfidf_model is not None:
            return super().update_topics(docs, images, topics, top_n_words, n_gram_range, vectorizer_model,
                                         ctfidf_model, representation_model)
        if vectorizer_model is None and n_gram_range is not None:
            vectorizer_model = default_vectorizer(ngram_range=tuple(n_gram_range), min_df="auto")
        if vectorizer_model is not None:
            bow = vectorizer_model.fit_transform(self._preprocess_text(np.asarray(docs, dtype=object)))
            stages = fit_emission(
                stages,
                bow,
                background_weight=merger.background_weight,
                random_state=merger.random_state,
                verbose=merger.verbose,
            )
            merger.set_stages(stages)
            self.sae_stages_ = stages
        else:
            vectorizer_model = self.vectorizer_model
        return super().update_topics(docs, images, topics, top_n_words, n_gram_range, vectorizer_model,
                                     self.ctfidf_model, representation_model)

    def reduce_topics(self, docs, nr_topics=20, images=None, use_ctfidf: bool = False) -> BERTopic:
        """BERTopic's ``reduce_topics``; asking for at least as many topics as the model has changes nothing.

        Stock BERTopic 0.17.4 re-maps the probabilities with a stale mapping in that case and raises an
        IndexError; SAE models have few topics (K), so users meet that case often.
        """
        if isinstance(nr_topics, int) and not isinstance(nr_topics, bool):
            have = len(self.get_topics()) - self._outliers
            if nr_topics >= have:
                warnings.warn(
                    f"reduce_topics(nr_topics={nr_topics}): the model has {have} topics already, so nothing "
                    "is reduced. Ask for fewer, or re-merge the atoms into more topics with set_n_topics.",
                    UserWarning,
                    stacklevel=2,
                )
                return self
        return super().reduce_topics(docs, nr_topics=nr_topics, images=images, use_ctfidf=use_ctfidf)

    def reduce_outliers(
        self,
        documents,
        topics,
        images=None,
        strategy="distributions",
        probabilities=None,
        threshold=0,
        embeddings=None,
        distributions_params={},  # noqa: B006 (the stock signature; never mutated)
    ):
        """Every document already has a topic under an SAEAtomMerger, so there is nothing to reduce."""
        if self._sae_merger() is not None and -1 not in set(topics):
            logger.info("No outliers to reduce: SAEAtomMerger gives every document a topic.")
            return list(topics)
        return super().reduce_outliers(
            documents, topics, images, strategy, probabilities, threshold, embeddings, distributions_params
        )

    # ------------------------------------------------------------------ plots (bertopic_sae.plotting)
    def visualize_atoms(self, topic: int, **kwargs):
        """The SAE atoms that make ``topic``; see :func:`bertopic_sae.plotting.visualize_atoms`."""
        from ..plotting import visualize_atoms

        return visualize_atoms(self, topic, **kwargs)

    def visualize_topic_tree(self, ks=(10, 20, 50, 100), embeddings=None, **kwargs):
        """How topics split as K grows; see :func:`bertopic_sae.plotting.visualize_topic_tree`."""
        from ..plotting import visualize_topic_tree

        return visualize_topic_tree(self, ks, embeddings=embeddings, **kwargs)

    def visualize_corpus_comparison(self, groups, **kwargs):
        """Topic shares by corpus; see :func:`bertopic_sae.plotting.visualize_corpus_comparison`."""
        from ..plotting import visualize_corpus_comparison

        return visualize_corpus_comparison(self, groups, **kwargs)

    # ------------------------------------------------------------------ persistence
    def save(
        self,
        path,
        serialization: Literal["safetensors", "pickle", "pytorch"] = "pickle",
        save_embedding_model: bool | str = True,
        save_ctfidf: bool = False,
        *,
        overwrite: bool = False,
    ) -> None:
        """Save as BERTopic does; with safetensors/pytorch also the SAE, the merger and the emission model.

        Every argument is checked before the disk is touched. A folder is written whole into a staging
        folder beside ``path`` and swapped in (:mod:`bertopic_sae._io`), so an interrupted save never
        damages an earlier one; a folder holding files this package did not write is refused.

        Arguments:
            path: a folder (safetensors, pytorch) or a file (pickle).
            serialization: ``"safetensors"``, ``"pytorch"`` or ``"pickle"``.
            save_embedding_model: as in BERTopic (a model name to record, or whether to pickle the model).
            save_ctfidf: also save the c-TF-IDF rows (always done when SAE parts are saved).
            overwrite: replace a folder that holds files not written by bertopic-sae.
        """
        if serialization not in ("safetensors", "pickle", "pytorch"):
            raise ValueError(
                f"serialization must be 'safetensors', 'pytorch' or 'pickle', got {serialization!r}; "
                "nothing was written."
            )
        merger = self._sae_merger()
        target = Path(path)
        vocabulary = getattr(self.vectorizer_model, "vocabulary_", None)
        if vocabulary is not None:  # max_features leaves numpy ints, which BERTopic's JSON writer rejects
            self.vectorizer_model.vocabulary_ = {word: int(index) for word, index in vocabulary.items()}
        if serialization == "pickle":
            if target.is_dir():
                raise IsADirectoryError(f"{target} is a folder; pickle saves one file: pass a file path.")
            with _io.atomic_file(target) as staging:
                super().save(staging, serialization="pickle", save_embedding_model=save_embedding_model)
            return
        sae_parts = merger is not None and hasattr(merger, "atom_topic_")
        # BERTopic's c-TF-IDF config only knows CountVectorizer's parameters; an OnlineCountVectorizer (online
        # fitting, where topic words are c-TF-IDF anyway) cannot be written there, as in stock BERTopic.
        plain_vectorizer = {"tokenizer", "preprocessor", "dtype"} <= set(self.vectorizer_model.get_params())
        with _io.atomic_folder(
            target, kind="bertopic-sae model", overwrite=overwrite, legacy=LEGACY_MODEL_ENTRIES
        ) as staging:
            super().save(
                staging,
                serialization=serialization,
                save_embedding_model=save_embedding_model,
                save_ctfidf=save_ctfidf or (sae_parts and plain_vectorizer),
            )
            if sae_parts:
                _save_sae_parts(self, staging)
            _resolve_min_df(self.vectorizer_model, staging / "ctfidf_config.json")

    @classmethod
    def load(cls, path: str | os.PathLike, embedding_model=None) -> BERTopic:
        """Load a model saved by :meth:`save` (or by stock BERTopic) and re-attach the SAE parts.

        Raises:
            FileNotFoundError: ``path`` does not exist, or the folder lacks a part of the model.
        """
        _io.recover(path)  # a save killed between its two renames left only the aside copy
        folder = Path(path)
        hub_id = not folder.exists() and not folder.is_absolute() and str(path).count("/") == 1 and \
            not folder.parent.exists()
        if not folder.exists() and not hub_id:
            raise FileNotFoundError(f"No model at {path}: the path does not exist. Pass the folder "
                                    "(safetensors/pytorch) or the file (pickle) that save() wrote.")
        if folder.is_dir():
            _check_model_folder(folder)
            if embedding_model is None:  # a recorded WordLlama is no Hub id: build it here
                embedding_model = _recorded_wordllama(folder)
        model = _BERTopic.load(str(path), embedding_model=embedding_model)
        if folder.is_dir() and (folder / MERGER_CONFIG).exists():
            model.__class__ = cls  # BERTopic.load builds its own class; see _bertopic_private
            _load_sae_parts(model, folder)
        elif not isinstance(model, cls):
            model.__class__ = cls
        return model


def _recorded_wordllama(folder: Path):
    """A WordLlamaEmbedder when the saved config names it as the embedding model, else None."""
    from ..sae.resolve import WORDLLAMA_MODEL, canonical_model_name

    try:
        recorded = json.loads((folder / "config.json").read_text()).get("embedding_model")
    except (OSError, ValueError):
        return None
    if isinstance(recorded, str) and canonical_model_name(recorded) == WORDLLAMA_MODEL:
        from .wordllama import WordLlamaEmbedder

        return WordLlamaEmbedder()
    return None


def _check_model_folder(folder: Path) -> None:
    """Refuse a model folder with a part missing, naming it (instead of a plain BERTopic or a late crash)."""
    missing = [name for name in ("topics.json", "config.json") if not (folder / name).exists()]
    ours = [name for name in (MERGER_CONFIG, MERGER_TENSORS) if (folder / name).exists()]
    if ours or (folder / SAE_DIR).exists():
        missing += [name for name in (MERGER_CONFIG, MERGER_TENSORS) if name not in ours]
    if MERGER_CONFIG in ours:
        config = json.loads((folder / MERGER_CONFIG).read_text())
        state = config.get("merger_state", {})
        needs_sae = config.get("encoder") == "sae" or state.get("input") == "embeddings"
        if needs_sae and not (folder / SAE_DIR / "cfg.json").exists():
            missing.append(f"{SAE_DIR}/ (the SAE)")
    if missing:
        raise FileNotFoundError(
            f"{folder} is not a complete model: {', '.join(missing)} missing. Save the model again with "
            "save(path, serialization='safetensors'), or copy the whole folder."
        )


LEGACY_MODEL_ENTRIES = (
    "config.json",
    "topics.json",
    "topic_embeddings.safetensors",
    "topic_embeddings.bin",
    "ctfidf.safetensors",
    "ctfidf.bin",
    "ctfidf_config.json",
    SAE_DIR,
    MERGER_TENSORS,
    MERGER_CONFIG,
    "topics.csv",
)
"""What a model folder saved by 0.1.0 (before the marker file) holds; such folders count as ours."""


def _resolve_min_df(vectorizer, ctfidf_config: Path) -> None:
    """Write the min_df the vocabulary was built with instead of ``"auto"``: stock ``bertopic.BERTopic.load``
    rebuilds a plain ``CountVectorizer``, which rejects ``min_df="auto"`` when it is refitted."""
    if not ctfidf_config.exists() or getattr(vectorizer, "min_df", None) != "auto":
        return
    config = json.loads(ctfidf_config.read_text())
    config["vectorizer_model"]["params"]["min_df"] = int(getattr(vectorizer, "min_df_", 1))
    ctfidf_config.write_text(json.dumps(config, indent=2))


def _save_sae_parts(model: BERTopic, folder: Path) -> None:
    from safetensors.numpy import save_file

    merger = model.hdbscan_model
    stages = model._stages()
    if stages is None:
        raise ValueError("The SAEAtomMerger is fitted but its stages are missing; refit before saving.")
    if stages.sae is not None:
        stages.sae.save_pretrained(folder / SAE_DIR)
    arrays, stage_config = stages_to_arrays(stages)
    save_file({**arrays, **merger.state_arrays()}, str(folder / MERGER_TENSORS))
    config = {
        "merger_params": {
            k: v for k, v in merger.get_params().items() if k not in ("sae", "sae_config", "train_config")
        },
        "merger_state": {**merger.state_config(), **stage_config},
        "encoder": "sae" if isinstance(model.umap_model, SAEEncoder) else "identity",
        "ctfidf": model.ctfidf_model.get_params()
        if isinstance(model.ctfidf_model, EmissionTopicWords)
        else None,
    }
    (folder / MERGER_CONFIG).write_text(json.dumps(config, indent=2))


def _load_sae_parts(model: BERTopic, folder: Path) -> None:
    from safetensors.numpy import load_file

    config = json.loads((folder / MERGER_CONFIG).read_text())
    sae = SparseAutoencoder.from_pretrained(folder / SAE_DIR) if (folder / SAE_DIR).exists() else None
    arrays = load_file(str(folder / MERGER_TENSORS))
    stages = stages_from_arrays(arrays, config["merger_state"], sae)
    # Saved before merge_init / adapt / centroid_init existed: a later set_n_topics or refit follows the
    # saved model's rules.
    old_rules = {"merge_init": "k-means++", "n_init": 1, "adapt": "never", "centroid_init": "atoms"}
    merger = SAEAtomMerger(**{**old_rules, **config["merger_params"]})
    merger.load_state(arrays, config["merger_state"], stages)
    model.hdbscan_model = merger
    model.sae_stages_ = stages
    if config["encoder"] == "sae":
        if sae is None:
            raise ValueError(f"{folder} was saved with an SAEEncoder but without its SAE (no {SAE_DIR}/); "
                             "it cannot encode new documents. Refit and save it again.")
        encoder = SAEEncoder(sae=sae)
        encoder.sae_, encoder.n_features_in_ = sae, sae.d_in
        encoder.float16_grid_ = stages.float16_grid
        model.umap_model = encoder
    if config["ctfidf"] is not None:
        # Saved before share_prior / weight_documents / parent_prior / exclusivity existed: keep the words
        # it was saved with.
        old = {"share_prior": 0.0, "weight_documents": False, "parent_prior": 0.0, "exclusivity": 0.0}
        ctfidf = EmissionTopicWords(**{**old, **config["ctfidf"]})
        if stages.emission is not None:
            ctfidf.fit_emission(stages.emission)
        model.ctfidf_model = ctfidf
