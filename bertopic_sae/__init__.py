"""bertopic-sae: topic modeling with sparse autoencoders, as components for BERTopic.

The package, as folders:

* ``sae/``: the sparse autoencoder shared by every topic model (config, model, checkpoint layouts,
  trainer, SAE resolution, shipped SAEs);
* ``tm/``: SAE-TM, one stage per module (vocabulary, emission model, topic words, merge, assignment);
* ``components/``: the BERTopic glue, one slot per module: :class:`SAEEncoder` (``umap_model``),
  :class:`SAEAtomMerger` (``hdbscan_model``), :class:`EmissionTopicWords` (``ctfidf_model``) and
  :class:`BERTopic`, which composes the stages and saves them;
* ``eval/``: OCTIS adapters (ours and each peer), benchmark corpora and metrics;
* ``data.py``: corpora, the on-disk embedding cache and embedding shards; ``_io.py``: the atomic writer;
  ``cli.py``: the command line.
"""

from importlib import import_module

from . import _compat
from .sae.config import SAEConfig, TrainConfig
from .sae.model import EncoderOutput, ForwardOutput, SparseAutoencoder
from .sae.train import TrainResult, train_sae

__version__ = "0.1.0"

_compat.install()

# Components that import BERTopic (slow to import) load on first use.
_LAZY = {
    "SAEEncoder": ".components.encoder",
    "SAEAtomMerger": ".components.merger",
    "EmissionModel": ".tm.emission",
    "EmissionTopicWords": ".components.representation",
    "BERTopic": ".components.bertopic",
    "default_vectorizer": ".tm.vocabulary",
    "load_pretrained": ".sae.pretrained",
    "WordLlamaEmbedder": ".components.wordllama",
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
