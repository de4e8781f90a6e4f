"""A fast static embedder for big corpora on a CPU (``embedding_model`` slot): WordLlama token vectors.

WordLlama (PyPI ``wordllama``, MIT) ships a 32,000 x 256 token-embedding table distilled from an LLM and
its tokenizer, inside the wheel (19 MB, no download). A document's embedding is the mean of its tokens'
rows, L2-normalised: the same vectors as ``WordLlama.embed(texts, norm=True)``, computed as one sparse
(documents x tokens) product, several times faster than its own batched padding.

Usage:

```python
from bertopic_sae import BERTopic, SAEAtomMerger, WordLlamaEmbedder
topic_model = BERTopic(clustering_model=SAEAtomMerger(n_topics=50), embedding_model=WordLlamaEmbedder())
topics, probs = topic_model.fit_transform(docs)   # sae="auto" picks the shipped wordllama-256 SAE
```
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from bertopic.backend import BaseEmbedder

from ..sae.resolve import WORDLLAMA_MODEL, canonical_model_name

__all__ = ["WordLlamaEmbedder", "WORDLLAMA_MODEL", "is_wordllama_name"]



def is_wordllama_name(name: object) -> bool:
    """Whether ``name`` names the WordLlama embedder (``wordllama`` or its full name)."""
    return isinstance(name, str) and canonical_model_name(name) == WORDLLAMA_MODEL


class WordLlamaEmbedder(BaseEmbedder):
    """Mean-pooled WordLlama token vectors as a BERTopic embedding backend (256-d, L2-normalised).

    Arguments:
        config: WordLlama configuration bundled in the wheel (only ``"l2_supercat"`` ships its weights).
        dim: width of the table (the bundled weights are 256-d).
        batch_size: documents tokenised and pooled per step (bounds the memory of one step).
        verbose: show a progress bar in :meth:`embed` by default.

    Usage:

    ```python
    embedder = WordLlamaEmbedder()
    vectors = embedder.embed(["a first document", "and a second one"])   # (2, 256) float32
    ```
    """

    def __init__(
        self,
        config: Literal["l2_supercat"] = "l2_supercat",
        dim: int = 256,
        batch_size: int = 8192,
        verbose: bool = False,
    ):
        super().__init__()
        self.config = config
        self.dim = dim
        self.batch_size = batch_size
        self.verbose = verbose
        self.name_or_path = WORDLLAMA_MODEL if (config, dim) == ("l2_supercat", 256) else \
            f"wordllama-{config}-{dim}"
        self.embedding_model = self.name_or_path  # what bertopic_sae reads to find the shipped SAE
        self._table: np.ndarray | None = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        if self._table is not None:
            return
        try:
            import wordllama
            from wordllama import WordLlama
        except ImportError as err:
            raise ImportError("WordLlamaEmbedder needs the wordllama package: pip install wordllama") from err
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size}.")
        # Load from the wheel's own folder: the default cache lookup tries a download offline.
        try:
            model = WordLlama.load(
                config=self.config, dim=self.dim, cache_dir=Path(wordllama.__file__).parent,
                disable_download=True,
            )
        except (FileNotFoundError, ValueError) as err:
            raise ValueError(
                f"WordLlama {self.config!r} at dim {self.dim} is not bundled with the installed wordllama "
                f"({err}); use config='l2_supercat', dim=256."
            ) from err
        self._table = np.ascontiguousarray(model.embedding, dtype=np.float32)
        tokenizer = model.tokenizer
        tokenizer.no_padding()  # pooled through a sparse matrix: no padding to the longest document
        tokenizer.no_truncation()
        self._tokenizer = tokenizer

    def get_sentence_embedding_dimension(self) -> int:
        """Width of the embeddings (as sentence-transformers names it)."""
        return self.dim

    def _pool(self, texts: list[str]) -> np.ndarray:
        assert self._table is not None and self._tokenizer is not None
        encoded = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encoded), dtype=np.int64, count=len(encoded))
        ids = np.fromiter((i for e in encoded for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
        np.clip(ids, 0, self._table.shape[0] - 1, out=ids)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        tokens = sp.csr_matrix((np.ones(ids.size, np.float32), ids, indptr),
                               shape=(len(texts), self._table.shape[0]))
        pooled = np.asarray(tokens @ self._table, dtype=np.float32)
        # The mean's 1/length cancels in the normalisation; an empty document stays the zero vector.
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)

    def embed(self, documents: Sequence[str], verbose: bool | None = None) -> np.ndarray:
        """L2-normalised embeddings ``(n, dim)`` float32 of ``documents`` (strings).

        Arguments:
            documents: the texts.
            verbose: show a progress bar (default: the ``verbose`` given at construction).
        """
        from tqdm.auto import tqdm

        if isinstance(documents, str):
            raise TypeError("documents must be a list of strings, got one string; wrap it: [text].")
        texts = [str(d) if d is not None else "" for d in documents]
        self._load()
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        show = self.verbose if verbose is None else verbose
        steps = range(0, len(texts), self.batch_size)
        for start in tqdm(steps, disable=not show or len(steps) < 2, desc="wordllama", unit="batch"):
            out[start : start + self.batch_size] = self._pool(texts[start : start + self.batch_size])
        return out

    def encode(
        self,
        sentences: Sequence[str],
        batch_size: int | None = None,
        show_progress_bar: bool = False,
        normalize_embeddings: bool = True,
        convert_to_numpy: bool = True,
        **_ignored,
    ) -> np.ndarray:
        """The sentence-transformers ``encode`` signature (for the embedding cache and shards); always
        normalised float32 numpy."""
        return self.embed(sentences, verbose=show_progress_bar)
