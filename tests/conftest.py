"""Shared fixtures: real text from ../shared/datasets and its cached MiniLM embeddings."""

import os

import numpy as np
import pytest

# OpenMP threads that spin while waiting make small torch/numba ops ~100x slower on a busy 2-core machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def planted_ctm(n: int, d: int, k: int, *, per_doc: int, noise: float, seed: int = 0):
    """Documents from a continuous LDA: sparse Dirichlet mixtures of k unit directions plus noise."""
    rng = np.random.default_rng(seed)
    atoms = rng.standard_normal((k, d))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    theta = np.zeros((n, k))
    for row in theta:
        chosen = rng.choice(k, per_doc, replace=False)
        row[chosen] = rng.dirichlet(np.ones(per_doc))
    X = theta @ atoms + noise * rng.standard_normal((n, d)) / np.sqrt(d)
    return X.astype(np.float32), atoms


@pytest.fixture(scope="session")
def embedding_model():
    from bertopic_sae.data import default_embedding_model

    return default_embedding_model(device="cpu")


@pytest.fixture(scope="session")
def bbc(embedding_model):
    """BBC News (raw text, 5 labels), first 600 articles, with MiniLM embeddings (cached on disk)."""
    from bertopic_sae.data import embed, load_corpus

    corpus = load_corpus("bbc_news")
    rng = np.random.default_rng(0)
    keep = np.sort(rng.choice(len(corpus.texts), 600, replace=False))
    texts = [corpus.texts[i] for i in keep]
    labels = [corpus.labels[i] for i in keep]
    embeddings = embed(texts, embedding_model, show_progress_bar=False)
    return texts, labels, embeddings


@pytest.fixture(scope="session")
def small_sae(bbc):
    """A small relu-l1 SAE trained on the BBC subset's embeddings (seconds on CPU)."""
    from bertopic_sae import SAEConfig, TrainConfig, train_sae

    _, _, embeddings = bbc
    config = SAEConfig(d_in=embeddings.shape[1], d_sae=256, l1_coefficient=0.2)
    return train_sae(embeddings, config, TrainConfig(steps=400, batch_size=256, lr=3e-3, verbose=False)).sae


@pytest.fixture(scope="session")
def tweets(embedding_model):
    """600 dated health-news tweets from 6 sources, with embeddings."""
    from bertopic_sae.data import embed, load_corpus

    corpus = load_corpus("health_news_tweets")
    rng = np.random.default_rng(0)
    keep = np.sort(rng.choice(len(corpus.texts), 600, replace=False))
    texts = [corpus.texts[i] for i in keep]
    return (texts, [corpus.labels[i] for i in keep], [corpus.timestamps[i] for i in keep],
            embed(texts, embedding_model, show_progress_bar=False))
