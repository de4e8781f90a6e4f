"""Saving and loading a fitted :class:`~bertopic_sae.components.merger.SAEAtomMerger` (a mixin of it): the
merge as named arrays plus a JSON config; the stages (SAE, codes, emission) are saved beside it by
:mod:`bertopic_sae.components.bertopic`. Also reads merger pickles written by 0.1.0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from ..tm.state import FittedStages

__all__ = ["MergerPersistence"]


class MergerPersistence(BaseEstimator):
    """The persistence half of SAEAtomMerger (it uses the merger's ``_check_fitted``, ``_set_atom_topics``
    and ``_mixture``)."""

    def state_arrays(self: Any) -> dict[str, np.ndarray]:
        """The fitted merge as named numpy arrays (for safetensors; the stages are saved beside it)."""
        self._check_fitted()
        arrays = {
            "atom_topic": self.atom_topic_,
            "atom_weights": self.atom_weights_,
            "atom_vectors": self._atom_vectors,
            "labels": self.labels_,
            **({"topic_centroids": self.topic_centroids_} if self.topic_centroids_ is not None else {}),
        }
        return {name: np.ascontiguousarray(value) for name, value in arrays.items()}

    def state_config(self: Any) -> dict:
        """The fitted merge that is not an array (JSON-serialisable)."""
        self._check_fitted()
        return {"n_topics_": int(self.n_topics_), "merge_": self.merge_}

    def load_state(
        self: Any, arrays: dict[str, np.ndarray], config: dict, stages: FittedStages
    ) -> Any:
        """Restore a fitted merger (returned) from :meth:`state_arrays`, :meth:`state_config`, its stages."""
        self.stages_ = stages
        self.merge_ = config["merge_"]
        self.atom_weights_ = arrays["atom_weights"]
        self._atom_vectors = arrays["atom_vectors"]
        self._set_atom_topics(arrays["atom_topic"], int(config["n_topics_"]))
        self.topic_centroids_ = arrays.get("topic_centroids")
        # The labels are stored; only the mixture is recomputed (what _assign returns beside its labels).
        self.probabilities_ = self._mixture(self.codes_)
        self.labels_ = arrays["labels"]
        return self

    def __setstate__(self, state: dict) -> None:
        # Pickled by 0.1.0: the earlier stages' results were attributes of the merger.
        if "stages_" not in state and "codes_" in state:
            state["stages_"] = FittedStages(
                sae=state.pop("sae_", None),
                codes=state.pop("codes_"),
                counts=state.pop("counts_", None),
                emission=state.pop("emission_model_", None),
                input=state.pop("_input", "embeddings"),
                float16_grid=False,
            )
        super().__setstate__(state)
