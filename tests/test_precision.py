"""bfloat16 compute for the two long CPU steps of SAE pretraining: embedding sections, training the SAE."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bertopic_sae import SAEConfig, TrainConfig, train_sae
from bertopic_sae.data import DataError, ShardedEmbeddings, embed_to_shards


def test_bfloat16_embeddings_agree_with_float32_and_the_callers_model_is_not_cast(tmp_path, tweets,
                                                                                   embedding_model):
    texts = tweets[0][:48]
    embed_to_shards(texts, tmp_path / "fp32", model=embedding_model, shard_size=32, verbose=False)
    embed_to_shards(texts, tmp_path / "bf16", model=embedding_model, precision="bfloat16", shard_size=32,
                    verbose=False)
    assert next(embedding_model.parameters()).dtype == torch.float32
    a = ShardedEmbeddings(tmp_path / "fp32")[0:48].astype(np.float32)
    b = ShardedEmbeddings(tmp_path / "bf16")[0:48].astype(np.float32)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.999
    assert not np.array_equal(a, b)  # it did run in bfloat16
    assert json.loads((tmp_path / "bf16" / "manifest.json").read_text())["precision"] == "bfloat16"


def test_a_rerun_at_another_precision_is_refused(tmp_path, tweets, embedding_model):
    texts = tweets[0][:8]
    embed_to_shards(texts, tmp_path / "emb", model=embedding_model, shard_size=8, verbose=False)
    with pytest.raises(DataError, match="precision"):
        embed_to_shards(texts, tmp_path / "emb", model=embedding_model, precision="bfloat16", shard_size=8,
                        verbose=False)
    manifest = tmp_path / "emb" / "manifest.json"  # written before the option existed: float32
    old = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({key: value for key, value in old.items() if key != "precision"}))
    embed_to_shards(texts, tmp_path / "emb", model=embedding_model, shard_size=8, verbose=False)
    with pytest.raises(DataError, match="--precision must be"):
        embed_to_shards(texts, tmp_path / "other", model=embedding_model, precision="float16", verbose=False)


def test_bfloat16_training_on_cpu_reaches_the_float32_fit(bbc):
    X = bbc[2]
    config = SAEConfig(d_in=X.shape[1], d_sae=512, architecture="batchtopk", k=16)
    fits = {
        precision: train_sae(X, config, TrainConfig(steps=150, batch_size=200, lr=3e-3, device="cpu",
                                                    precision=precision, verbose=False))
        for precision in ("float32", "bfloat16")
    }
    assert fits["bfloat16"].sae.W_dec.dtype == torch.float32  # weights stay float32; only matmuls autocast
    assert not torch.equal(fits["float32"].sae.W_dec, fits["bfloat16"].sae.W_dec)
    assert abs(fits["bfloat16"].fvu - fits["float32"].fvu) < 0.03
    with pytest.raises(ValueError, match="precision must be"):
        TrainConfig(precision="half")  # type: ignore[arg-type]
