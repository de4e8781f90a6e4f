"""The project's shared bag-of-words vocabulary and the IDF weights of the SAE-TM emission model.

SAE-TM (Girrbach & Akata) learns its word-emission matrix against a 5,000-word vocabulary of
alphabetic tokens of three or more letters, English stop words removed, kept when they occur in at
least 5 documents. :func:`default_vectorizer` returns a scikit-learn ``CountVectorizer`` with that
configuration, so every model and benchmark in the project counts words the same way.

Usage:

```python
from bertopic_sae.vocabulary import default_vectorizer, idf_weights
vectorizer = default_vectorizer()
counts = vectorizer.fit_transform(texts)       # CSR (n_docs, n_words)
weights = idf_weights(counts)                  # (n_words,), in [0, 1]
```
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from .._types import Counts

__all__ = ["DEFAULT_VECTORIZER_PARAMS", "default_vectorizer", "auto_min_df", "idf_weights"]

DEFAULT_VECTORIZER_PARAMS: dict[str, Any] = {
    "stop_words": "english",
    "token_pattern": r"(?u)\b[a-zA-Z]{3,}\b",
    "lowercase": True,
    "min_df": 5,
    "max_features": 5000,
}
"""``CountVectorizer`` arguments of :func:`default_vectorizer` (the paper's V = 5,000, min_df = 5)."""


def auto_min_df(n_docs: int) -> int:
    """A document-frequency cut-off that suits a corpus of ``n_docs`` documents.

    The paper's ``min_df=5`` is meant for corpora of thousands of documents; on a corpus of a few
    dozen documents it removes nearly every word. This returns ``min(5, max(1, n_docs // 100))``:
    1 below 200 documents, growing to 5 from 500 documents on.

    Arguments:
        n_docs: number of documents the vectorizer will be fitted on.

    Usage:

    ```python
    auto_min_df(150)     # 1
    auto_min_df(18_000)  # 5
    ```
    """
    if n_docs < 0:
        raise ValueError(f"n_docs must be >= 0, got {n_docs}.")
    return int(min(5, max(1, n_docs // 100)))


class _AutoMinDfVectorizer(CountVectorizer):
    """``CountVectorizer`` whose ``min_df="auto"`` is resolved from the number of documents at fit time."""

    def _resolved(self, raw_documents):
        if isinstance(self.min_df, str):
            if self.min_df != "auto":
                raise ValueError(f"min_df must be an int, a float or 'auto', got {self.min_df!r}.")
            # Materialise once: a generator would be exhausted by len().
            raw_documents = list(raw_documents)
            return raw_documents, auto_min_df(len(raw_documents))
        return raw_documents, self.min_df

    def fit_transform(self, raw_documents, y=None):
        raw_documents, min_df = self._resolved(raw_documents)
        requested = self.min_df
        self.min_df = min_df
        try:
            return super().fit_transform(raw_documents, y)
        finally:
            # Keep the user's parameter so get_params/clone round-trip; record what was used.
            self.min_df = requested
            self.min_df_ = min_df

    def fit(self, raw_documents, y=None):
        self.fit_transform(raw_documents, y)
        return self


class _LemmaAnalyzer:
    """Tokenise like ``CountVectorizer``, drop stop words, then map each token to its WordNet lemma.

    A class rather than a closure so fitted vectorizers (and BERTopic models holding them) pickle.
    """

    def __init__(self, token_pattern: str, lowercase: bool, stop_words):
        self.token_pattern = token_pattern
        self.lowercase = lowercase
        self.stop_words = stop_words
        self._setup()

    def _setup(self) -> None:
        try:
            from nltk.stem import WordNetLemmatizer
        except ImportError as error:
            raise ImportError(
                "lemmatize=True needs nltk: `pip install nltk`, then download the WordNet data with "
                "`python -m nltk.downloader wordnet omw-1.4`, or use lemmatize=False."
            ) from error
        self._lemmatizer = WordNetLemmatizer()
        try:
            self._lemmatizer.lemmatize("topics")
        except LookupError as error:
            raise LookupError(
                "lemmatize=True needs the NLTK WordNet data, which is not installed: run "
                "`python -m nltk.downloader wordnet omw-1.4` (or set NLTK_DATA), or use lemmatize=False."
            ) from error
        base = CountVectorizer(
            token_pattern=self.token_pattern, lowercase=self.lowercase, stop_words=self.stop_words
        )
        self._tokenize = base.build_tokenizer()
        self._preprocess = base.build_preprocessor()
        self._stop = frozenset(base.get_stop_words() or ())
        self._cache: dict[str, str] = {}

    def __getstate__(self) -> dict:
        # The lemmatizer and caches are rebuilt on unpickling.
        return {key: self.__dict__[key] for key in ("token_pattern", "lowercase", "stop_words")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._setup()

    def __call__(self, text: str) -> list[str]:
        lemmas = []
        for token in self._tokenize(self._preprocess(text)):
            if token in self._stop:
                continue
            lemma = self._cache.get(token)
            if lemma is None:
                lemma = self._cache[token] = self._lemmatizer.lemmatize(token)
            if lemma not in self._stop:
                lemmas.append(lemma)
        return lemmas


def default_vectorizer(*, lemmatize: bool = False, **overrides: Any) -> CountVectorizer:
    """A ``CountVectorizer`` configured like SAE-TM's vocabulary (see :data:`DEFAULT_VECTORIZER_PARAMS`).

    The defaults are ``stop_words="english"``, ``token_pattern=r"(?u)\\b[a-zA-Z]{3,}\\b"``,
    ``lowercase=True``, ``min_df=5`` and ``max_features=5000``. For tiny corpora (fewer than about
    200 documents) ``min_df=5`` leaves few or no words: pass a smaller ``min_df``, or
    ``min_df="auto"`` to pick ``min(5, max(1, n_docs // 100))`` when the vectorizer is fitted
    (see :func:`auto_min_df`; the value used is stored as ``min_df_``).

    Arguments:
        lemmatize: reduce tokens to their WordNet lemma ("topics" -> "topic"), as the paper does.
            Needs ``nltk`` and its WordNet data installed; raises an error naming the fix if not.
            (The paper also POS-tags tokens first and keeps only WordNet words; this does neither.)
        **overrides: any ``CountVectorizer`` keyword argument; these win over the defaults.

    Usage:

    ```python
    vectorizer = default_vectorizer()                  # the paper's vocabulary
    small = default_vectorizer(min_df="auto")          # for a corpus of 100 documents
    counts = small.fit_transform(texts)
    ```
    """
    params = {**DEFAULT_VECTORIZER_PARAMS, **overrides}
    if lemmatize:
        if params.get("analyzer", "word") != "word":
            raise ValueError("lemmatize=True builds its own word analyzer; drop the analyzer= override.")
        # A callable analyzer bypasses token_pattern, lowercase and stop words, so it applies them itself
        # (and they are unset here, or scikit-learn warns that they are unused).
        params["analyzer"] = _LemmaAnalyzer(
            params["token_pattern"], params["lowercase"], params["stop_words"]
        )
        params.update(token_pattern=None, stop_words=None)
    if isinstance(params.get("min_df"), str):
        return _AutoMinDfVectorizer(**params)
    return CountVectorizer(**params)


def idf_weights(counts: Counts) -> np.ndarray:
    """SAE-TM's word weights ``idf_v = log(n_docs / df_v) / max_v log(n_docs / df_v)``.

    Weights lie in [0, 1]. A word in no document (``df_v = 0``) gets weight 0; if every word is in
    every document (all raw IDFs are 0) all weights are 0.

    Arguments:
        counts: document-term counts, shape ``(n_docs, n_words)`` (scipy sparse or dense).

    Usage:

    ```python
    weights = idf_weights(default_vectorizer().fit_transform(texts))
    ```
    """
    if sp.issparse(counts):
        counts = sp.csr_array(counts)
        if not counts.has_canonical_format:
            counts = counts.copy()  # don't canonicalise the caller's matrix in place
            counts.sum_duplicates()
        n_docs, n_words = counts.shape
        # Explicitly stored zeros must not count as occurrences.
        df = np.bincount(counts.indices[counts.data != 0], minlength=n_words)
    else:
        counts = np.asarray(counts)
        if counts.ndim != 2:
            raise ValueError(f"counts must be a 2-D (n_docs, n_words) matrix, got shape {counts.shape}.")
        n_docs = counts.shape[0]
        df = (counts != 0).sum(axis=0)
    frequency = np.asarray(df, dtype=np.float64).ravel()
    idf = np.zeros(frequency.shape[0], dtype=np.float64)
    present = frequency > 0
    idf[present] = np.log(n_docs / frequency[present])
    top = idf.max(initial=0.0)
    return idf / top if top > 0 else idf
