"""Mechanistic Topic Models (Zheng et al., arXiv 2507.23220): topic models over an LM's SAE features.

Pipeline: :mod:`~bertopic_sae.mtm.activations` (residual stream of any HF causal LM at one layer) →
:mod:`~bertopic_sae.mtm.features` (per-document SAE feature counts, eq. 5, with the paper's filters) → one of
three models, :class:`MLDA` (LDA over features), :class:`METM` (topic vectors in activation space through the
frozen SAE encoder, binomial likelihood) and :class:`MBERTopic` (BERTopic on feature-count embeddings,
c-TF-IDF over features). Every model reads its topics as features (with descriptions from
:mod:`~bertopic_sae.mtm.descriptions`) and as words, saves/loads, and steers the LM toward a topic.

Usage:

```python
from bertopic_sae.mtm import MLDA
model = MLDA(n_topics=10).fit(texts)     # SmolLM2-135M-Instruct + the shipped layer-15 SAE, offline
model.topic_words(5)
```
"""

from importlib import import_module

from .base import MechanisticTopicModel, load_model
from .features import FeatureCounts, featurize
from .lmsae import LMSAE, FeatureStats, load_lm_sae

_LAZY = {"MLDA": ".mlda", "METM": ".metm", "MBERTopic": ".mbertopic"}

__all__ = [
    "MechanisticTopicModel",
    "load_model",
    "FeatureCounts",
    "featurize",
    "LMSAE",
    "FeatureStats",
    "load_lm_sae",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'bertopic_sae.mtm' has no attribute {name!r}")
