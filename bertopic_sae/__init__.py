"""bertopic-sae: topic modeling with sparse autoencoders, as components for BERTopic.

The SAE-TM pipeline in three stages, one module each:

1. atoms: :class:`SparseAutoencoder` (``sae.py``), trained by :func:`train_sae` (``train.py``) and
   applied by :class:`SAEEncoder` (``encoder.py``, BERTopic's ``umap_model`` slot);
2. emission: :class:`EmissionModel` (``emission.py``) learns which words each atom emits, and
   :class:`EmissionTopicWords` (BERTopic's ``ctfidf_model`` slot) shows them as topic words;
3. merge: :class:`SAEAtomMerger` (``merge.py``, BERTopic's ``hdbscan_model`` slot) groups atoms
   into any number of topics.

:class:`BERTopic` is the real ``bertopic.BERTopic`` with a ``clustering_model=`` argument and
persistence of the SAE parts.
"""

from importlib import import_module

from .config import SAEConfig, TrainConfig
from .sae import EncoderOutput, ForwardOutput, SparseAutoencoder
from .train import TrainResult, train_sae

__version__ = "0.1.0"

# Components that import BERTopic (slow to import) load on first use.
_LAZY = {
    "SAEEncoder": ".encoder",
    "SAEAtomMerger": ".merge",
    "EmissionModel": ".emission",
    "EmissionTopicWords": ".representation",
    "BERTopic": "._bertopic",
    "default_vectorizer": ".vocabulary",
    "load_pretrained": ".pretrained",
}

__all__ = [
    "SAEConfig",
    "TrainConfig",
    "SparseAutoencoder",
    "EncoderOutput",
    "ForwardOutput",
    "TrainResult",
    "train_sae",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'bertopic_sae' has no attribute {name!r}")
