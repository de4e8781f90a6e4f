"""The fitted state that several SAE-TM stages (and BERTopic slots) need, passed explicitly between them.

Stage 1 (the SAE) gives the training documents' codes; stage 2 (the emission model) their word
distributions. :func:`fit_stages` runs both; the merge (stage 3), the assignment and the topic words
then read a :class:`FittedStages` instead of each other's attributes.

Usage:

```python
stages = fit_stages(embeddings, sae="auto", bow=counts, embedding_model_name="all-MiniLM-L6-v2")
merger = SAEAtomMerger(n_topics=20).fit(embeddings, stages=stages, word_vectors=vectors)
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from .._types import Codes, Counts, Embeddings
from ..sae.adapt import AdaptMode, adapt_sae, should_adapt
from ..sae.config import SAEConfig, TrainConfig
from ..sae.model import SparseAutoencoder, check_embeddings
from ..sae.resolve import resolve_sae
from .emission import EmissionModel

__all__ = ["FittedStages", "fit_stages", "fit_emission", "stages_to_arrays", "stages_from_arrays"]


@dataclass(frozen=True)
class FittedStages:
    """Stages 1 and 2 fitted on the training documents."""

    sae: SparseAutoencoder | None
    """The SAE (None when the documents came as SAE codes and no SAE was given)."""
    codes: sp.csr_matrix
    """SAE codes of the training documents, ``(n_docs, d_sae)``."""
    counts: sp.csr_matrix | None = None
    """Bag of words of the training documents, ``(n_docs, V)`` (None without words)."""
    emission: EmissionModel | None = None
    """The emission model fitted on ``codes`` and ``counts`` (None without words)."""
    input: str = "embeddings"
    """What the documents came as: ``"embeddings"`` or ``"codes"``."""
    float16_grid: bool = True
    """Whether embeddings are read at float16 precision (:func:`bertopic_sae.sae.model.round_to_float16`), so
    float16-stored and float32 embeddings give the same topics; False for models saved by 0.1.0."""
    adapted: bool = False
    """Whether ``sae`` is a copy of the given SAE fine-tuned on these documents (``adapt=``)."""


def fit_emission(
    stages: FittedStages,
    bow: Counts,
    *,
    background_weight: float = 0.3,
    random_state: int | None = None,
    verbose: bool = False,
) -> FittedStages:
    """Stage 2: (re-)fit the emission model on the training documents' words ``bow`` ``(n_docs, V)``.

    Arguments:
        stages: the fitted SAE stage (its ``codes``).
        bow: bag-of-words counts of the same documents.
        background_weight: π, the share of words drawn from the background unigram.
        random_state: seed of the emission fit.
        verbose: show progress.
    """
    bow = sp.csr_matrix(bow)
    if bow.shape[0] != stages.codes.shape[0]:
        raise ValueError(f"bow has {bow.shape[0]} rows but there are {stages.codes.shape[0]} documents.")
    if bow.shape[1] == 0:
        raise ValueError("The vocabulary is empty: lower the vectorizer's min_df or pass more documents.")
    emission = EmissionModel(background_weight=background_weight, random_state=random_state, verbose=verbose)
    emission.fit(normalize(stages.codes, norm="l1"), bow)
    return replace(stages, counts=bow, emission=emission)


def fit_stages(
    X: Embeddings | Codes,
    *,
    sae: SparseAutoencoder | str | os.PathLike | None = "auto",
    bow: Counts | None = None,
    sae_config: SAEConfig | None = None,
    train_config: TrainConfig | None = None,
    embedding_model_name: str | None = None,
    background_weight: float = 0.3,
    adapt: AdaptMode = "never",
    adapt_max_docs: int = 4000,
    adapt_steps: int = 300,
    random_state: int | None = None,
    verbose: bool = False,
) -> FittedStages:
    """Stages 1 and 2: resolve (or train) the SAE, adapt it to the documents when the rule ``adapt`` says so,
    encode the documents, fit the emission model on ``bow``.

    Arguments:
        X: document embeddings ``(n, d_in)``, or SAE codes ``(n, d_sae)`` (scipy sparse).
        sae: the ``sae=`` argument (see :func:`bertopic_sae.sae.resolve.resolve_sae`).
        bow: bag-of-words counts ``(n, V)`` of the same documents; None skips the emission model.
        sae_config: shape of an SAE trained on the documents (when one is trained).
        train_config: how to train it.
        embedding_model_name: name of the embedding model, to pick a shipped SAE.
        background_weight: π of the emission model.
        adapt: whether a pretrained SAE (shipped, a folder or a given SAE; not one trained here) is fine-tuned
            on the documents first (:func:`bertopic_sae.sae.adapt.fine_tune_sae`, on a copy): ``"never"``,
            ``"fine-tune"`` (always) or ``"auto"`` (when there are at most ``adapt_max_docs`` documents).
            Not for SAE codes.
        adapt_max_docs: the corpus-size threshold of ``adapt="auto"``.
        adapt_steps: fine-tuning steps.
        random_state: seed of the SAE training, the fine-tuning and the emission fit.
        verbose: show progress.
    """
    should_adapt(adapt, 0, adapt_max_docs)  # check the values before any work
    if isinstance(adapt_steps, bool) or not isinstance(adapt_steps, (int, np.integer)) or adapt_steps < 1:
        raise ValueError(f"adapt_steps must be a positive integer, got {adapt_steps!r}.")
    if sp.issparse(X):
        model = None if sae in ("auto", None, "train") else resolve_sae(sae, None)
        codes = sp.csr_matrix(X, dtype=np.float32)
        if model is not None and codes.shape[1] != model.d_sae:
            raise ValueError(f"Got codes with {codes.shape[1]} atoms, but the SAE has {model.d_sae}.")
        stages = FittedStages(sae=model, codes=codes, input="codes")
    else:
        X = check_embeddings(X)
        model = resolve_sae(sae, X, sae_config=sae_config, train_config=train_config,
                            embedding_model_name=embedding_model_name, seed=random_state, verbose=verbose)
        check_embeddings(X, model.d_in)
        adapted = False
        pretrained = not _trained_here(sae, X, embedding_model_name)
        if pretrained and should_adapt(adapt, X.shape[0], adapt_max_docs):
            model = adapt_sae(model, X, adapt="fine-tune", steps=adapt_steps, seed=random_state,
                              verbose=verbose)
            adapted = True
        stages = FittedStages(sae=model, codes=model.encode_csr(X, verbose=verbose, float16_grid=True),
                              adapted=adapted)
    if bow is not None:
        stages = fit_emission(stages, bow, background_weight=background_weight, random_state=random_state,
                              verbose=verbose)
    return stages


def _trained_here(sae, X: np.ndarray, model_name: str | None) -> bool:
    """Whether ``resolve_sae`` trained the SAE on the documents (then there is nothing to adapt)."""
    if isinstance(sae, (SparseAutoencoder, os.PathLike)):
        return False
    if sae == "auto":
        from ..sae.pretrained import pretrained_for

        return model_name is None or pretrained_for(X.shape[1], model_name) is None
    return sae is None or sae == "train"


def stages_to_arrays(stages: FittedStages) -> tuple[dict[str, np.ndarray], dict]:
    """The stages (less the SAE, saved in its own folder) as named arrays and a JSON-able config."""
    codes = stages.codes.tocsr()
    arrays = {
        "codes_data": codes.data.astype(np.float32),
        "codes_indices": codes.indices.astype(np.int64),
        "codes_indptr": codes.indptr.astype(np.int64),
        "codes_shape": np.array(codes.shape, dtype=np.int64),
    }
    config: dict = {"input": stages.input, "float16_grid": stages.float16_grid, "adapted": stages.adapted}
    if stages.emission is not None:
        model = stages.emission
        arrays.update(emission=model.emission_, background=model.background_, idf=model.idf_,
                      emission_atom_weights=model.atom_weights_)
        config["emission_params"] = model.get_params()
    if stages.counts is not None:
        counts = sp.csr_matrix(stages.counts)
        arrays.update(
            counts_data=counts.data.astype(np.float32),
            counts_indices=counts.indices.astype(np.int64),
            counts_indptr=counts.indptr.astype(np.int64),
            counts_shape=np.array(counts.shape, dtype=np.int64),
        )
    return {name: np.ascontiguousarray(value) for name, value in arrays.items()}, config


def _csr(arrays: dict[str, np.ndarray], name: str) -> sp.csr_matrix:
    return sp.csr_matrix(
        (arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]),
        shape=tuple(int(v) for v in arrays[f"{name}_shape"]),
    )


def stages_from_arrays(
    arrays: dict[str, np.ndarray], config: dict, sae: SparseAutoencoder | None
) -> FittedStages:
    """Inverse of :func:`stages_to_arrays` (extra arrays, such as the merger's, are ignored)."""
    emission = None
    if "emission" in arrays:
        emission = EmissionModel(**config["emission_params"])
        emission.emission_, emission.background_ = arrays["emission"], arrays["background"]
        emission.idf_, emission.atom_weights_ = arrays["idf"], arrays["emission_atom_weights"]
    counts = _csr(arrays, "counts") if "counts_data" in arrays else None
    return FittedStages(
        sae=sae,
        codes=_csr(arrays, "codes"),
        counts=counts,
        emission=emission,
        input=config.get("input", "embeddings"),
        float16_grid=bool(config.get("float16_grid", False)),  # saved by 0.1.0: full precision
        adapted=bool(config.get("adapted", False)),
    )
