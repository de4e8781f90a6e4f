"""The sparse autoencoder, shared by every topic model of the package: config, model, checkpoint layouts,
trainer, the one SAE resolution, and the shipped SAEs.

Importing this package imports torch but not BERTopic.
"""

from .config import SAEConfig, TrainConfig
from .model import EncoderOutput, ForwardOutput, SparseAutoencoder, check_embeddings
from .train import TrainResult, train_sae

__all__ = [
    "SAEConfig",
    "TrainConfig",
    "SparseAutoencoder",
    "EncoderOutput",
    "ForwardOutput",
    "check_embeddings",
    "TrainResult",
    "train_sae",
]
