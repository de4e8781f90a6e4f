"""The benchmark corpora as OCTIS ``Dataset`` objects with the raw text and labels aligned to their rows."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._base import (
    TOKEN_PATTERN,
    Dataset,
    _present_words,
)

OCTIS_CORPORA = ("20newsgroups", "bbc_news", "m10", "dblp")
"""Benchmark corpora accepted by :func:`load_octis_corpus`."""


@dataclass
class OctisCorpus:
    """An OCTIS ``Dataset`` with the raw text and labels aligned to its rows."""

    name: str
    dataset: Dataset
    texts: list[str]
    """Raw text of each dataset row (what the embedding models embed)."""
    labels: list | None
    _embed: Callable[[Any], np.ndarray] = field(repr=False, default=None)
    _embeddings: np.ndarray | None = field(repr=False, default=None)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def token_lists(self) -> list[list[str]]:
        return self.dataset.get_corpus()

    def embeddings(self, model: Any = None) -> np.ndarray:
        """all-MiniLM-L6-v2 embeddings of :attr:`texts` (n x 384) from ``bertopic_sae.data.embed``'s cache."""
        if self._embeddings is None:
            self._embeddings = self._embed(model)
        return self._embeddings

    def subset(self, n_docs: int) -> OctisCorpus:
        """The first ``n_docs`` documents as an unpartitioned corpus whose vocabulary has only words present.

        Its embeddings are sliced from this corpus's if those are already in memory; otherwise only the
        subset's texts are embedded (and cached), which is much cheaper for a small smoke-test subset.
        """
        tokens = self.token_lists[:n_docs]
        vocab = _present_words(tokens, self.dataset.get_vocabulary())
        labels = None if self.labels is None else self.labels[:n_docs]
        dataset = Dataset(
            corpus=tokens,
            vocabulary=vocab,
            labels=labels,
            metadata={"last-training-doc": len(tokens), "last-validation-doc": len(tokens)},
        )
        parent, texts = self, self.texts[:n_docs]

        def run(model=None):
            if parent._embeddings is not None:
                return parent._embeddings[:n_docs]
            return _default_embed(texts)(model)

        return OctisCorpus(f"{self.name}[:{n_docs}]", dataset, texts, labels, run)


def shared_vocabulary_corpus(
    texts: Sequence[str], *, max_features: int = 5000, min_df: int = 5
) -> tuple[list[list[str]], list[str]]:
    """The baselines-20ng.md vocabulary recipe: token lists restricted to a CountVectorizer vocabulary.

    ``CountVectorizer(stop_words="english", token_pattern=r"(?u)\\b[a-zA-Z]{3,}\\b", min_df=5,
    max_features=5000)``.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(
        stop_words="english",
        token_pattern=TOKEN_PATTERN,
        lowercase=True,
        min_df=min_df,
        max_features=max_features,
    )
    vectorizer.fit(texts)
    vocab = set(vectorizer.vocabulary_)
    analyze = vectorizer.build_analyzer()
    tokens = [[w for w in analyze(text) if w in vocab] for text in texts]
    return tokens, sorted(vocab)


def _octis_cache() -> Path:
    from bertopic_sae.data import cache_dir

    return cache_dir() / "octis"


def _default_embed(texts: Sequence[str]) -> Callable[[Any], np.ndarray]:
    def run(model=None):
        from bertopic_sae.data import default_embedding_model, embed

        return embed(list(texts), model or default_embedding_model(), show_progress_bar=False)

    return run


def _load_20newsgroups(root: Path) -> OctisCorpus:
    """20NG rebuilt from the raw jsonl with the shared vocabulary recipe; cached as gzip JSON."""
    from bertopic_sae.data import load_corpus

    raw = load_corpus("20newsgroups", data_dir_=root)  # 18,331 non-empty posts, the lead's embedding cache
    digest = hashlib.sha1("\0".join(raw.texts).encode("utf-8", "replace")).hexdigest()[:12]
    path = _octis_cache() / f"20newsgroups-v5000-{digest}.json.gz"
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            cached = json.load(handle)
        tokens, vocab = cached["tokens"], cached["vocabulary"]
    else:
        tokens, vocab = shared_vocabulary_corpus(raw.texts)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8") as handle:
            json.dump({"tokens": tokens, "vocabulary": vocab}, handle)
        os.replace(tmp, path)
    # In memory, not via corpus.tsv: 85 posts have no vocabulary token, and OCTIS's loader cannot read empty
    # rows.
    # No partitions: the bydate train/test rows are interleaved in the raw file, and the reference used all
    # docs.
    metadata = {
        "last-training-doc": len(tokens),
        "last-validation-doc": len(tokens),
        "info": {"name": "20 Newsgroups (bydate, text_clean, shared 5000-word vocabulary)"},
    }
    dataset = Dataset(corpus=tokens, vocabulary=vocab, labels=list(raw.labels), metadata=metadata)
    return OctisCorpus("20newsgroups", dataset, list(raw.texts), list(raw.labels), _default_embed(raw.texts))


def _octis_folder(root: Path, folder: str) -> tuple[Dataset, np.ndarray]:
    """Load an OCTIS folder offline; also return, for each corpus.tsv line, its row in the loaded Dataset."""
    import pandas as pd

    path = root / "octis" / folder
    if not (path / "corpus.tsv").exists():
        raise FileNotFoundError(
            f"{path / 'corpus.tsv'} not found; set BERTOPIC_SAE_DATA to the shared datasets folder."
        )
    dataset = Dataset()
    dataset.load_custom_dataset_from_folder(str(path))
    parts = pd.read_csv(path / "corpus.tsv", sep="\t", header=None, usecols=[1], quoting=3)[1]
    # OCTIS reorders the lines train, val, test (stable): reproduce that to map file lines to dataset rows.
    order = np.concatenate([np.flatnonzero(parts.values == p) for p in ("train", "val", "test")])
    row_of_line = np.empty(len(order), dtype=int)
    row_of_line[order] = np.arange(len(order))
    return dataset, row_of_line


def _load_bbc(root: Path) -> OctisCorpus:
    from bertopic_sae.data import load_corpus

    dataset, row_of_line = _octis_folder(root, "BBC_News")
    raw = load_corpus("bbc_news", data_dir_=root)  # sorted by octis_index: line i of corpus.tsv
    texts = [None] * len(raw.texts)
    for line, text in enumerate(raw.texts):
        texts[row_of_line[line]] = text
    inverse = np.argsort(row_of_line)  # dataset row -> corpus.tsv line

    def run(model=None):
        return _default_embed(raw.texts)(model)[inverse]

    return OctisCorpus("bbc_news", dataset, texts, list(dataset.get_labels()), run)


def _load_m10(root: Path, min_containment: float = 0.5) -> OctisCorpus:
    """M10 with the raw titles; a title whose alignment is doubtful is replaced by the OCTIS tokens joined.

    ``align_containment`` (share of OCTIS tokens found in the title) < 0.5 marks the ~117 likely mismatches;
    between 0.5 and 1.0 the pairs are right but lemmatised ("data" -> "datum").
    """
    import pandas as pd

    dataset, row_of_line = _octis_folder(root, "M10")
    frame = pd.read_csv(root / "raw" / "m10_citeseer" / "m10_titles.csv.gz")
    titles = frame["title"].astype(str).tolist()  # = load_corpus("m10").texts: the lead's embedding cache
    tokens = dataset.get_corpus()
    texts = [" ".join(doc) for doc in tokens]
    title_of_row = np.full(len(tokens), -1)
    good = frame[(frame["octis_index"] >= 0) & (frame["align_containment"] >= min_containment)]
    for position, line in zip(good.index, good["octis_index"], strict=True):
        row = row_of_line[int(line)]
        texts[row] = titles[position]
        title_of_row[row] = position
    fallback = np.flatnonzero(title_of_row < 0)

    def run(model=None):
        from bertopic_sae.data import default_embedding_model, embed

        model = model or default_embedding_model()
        title_vectors = embed(titles, model, show_progress_bar=False)
        out = np.empty((len(tokens), title_vectors.shape[1]), dtype=np.float32)
        out[title_of_row >= 0] = title_vectors[title_of_row[title_of_row >= 0]]
        if len(fallback):
            out[fallback] = embed([texts[i] for i in fallback], model, show_progress_bar=False)
        return out

    return OctisCorpus("m10", dataset, texts, list(dataset.get_labels()), run)


def _load_dblp(root: Path) -> OctisCorpus:
    dataset, _ = _octis_folder(root, "DBLP")
    texts = [" ".join(doc) for doc in dataset.get_corpus()]  # no raw DBLP titles are available
    return OctisCorpus("dblp", dataset, texts, list(dataset.get_labels()), _default_embed(texts))


def load_octis_corpus(name: str, *, data_dir: str | os.PathLike | None = None) -> OctisCorpus:
    """Load a benchmark corpus (one of :data:`OCTIS_CORPORA`) as an OCTIS Dataset with aligned raw text.

    * ``20newsgroups``: rebuilt from ``raw/20newsgroups`` (18,331 non-empty posts, shared 5000-word vocabulary
      of baselines-20ng.md, newsgroup labels, no partitions); cached under ``BERTOPIC_SAE_CACHE/octis``.
    * ``bbc_news``, ``m10``, ``dblp``: the exact OCTIS files in ``octis/`` (offline loader, OCTIS partitions),
      with raw text aligned through ``octis_index`` (BBC articles, M10 titles; DBLP: its tokens joined).

    The data folder is found like :func:`bertopic_sae.data.data_dir` (``data_dir`` or ``BERTOPIC_SAE_DATA``).

    Usage:

    ```python
    corpus = load_octis_corpus("m10")
    corpus.dataset, corpus.texts, corpus.labels, corpus.embeddings()
    ```
    """
    from bertopic_sae.data import data_dir as find_data_dir

    loaders = {
        "20newsgroups": _load_20newsgroups,
        "bbc_news": _load_bbc,
        "m10": _load_m10,
        "dblp": _load_dblp,
    }
    if name not in loaders:
        raise ValueError(f"Unknown benchmark corpus {name!r}; choose one of {', '.join(OCTIS_CORPORA)}.")
    return loaders[name](find_data_dir(data_dir))
