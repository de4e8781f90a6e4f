"""The WordLlama embedding backend (real wordllama wheel, offline) and its shipped SAE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

wordllama = pytest.importorskip("wordllama")


def test_embeddings_equal_wordllama_own_and_are_unit_norm():
    from bertopic_sae import WordLlamaEmbedder
    from bertopic_sae.data import read_texts

    texts = read_texts("trump_tweets", limit=300)
    embedder = WordLlamaEmbedder(batch_size=128)  # several batches
    vectors = embedder.embed(texts)
    reference = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent,
                                         disable_download=True).embed(texts, norm=True)
    assert vectors.shape == (300, 256) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    empty = embedder.embed(["", "a real sentence about taxes"])
    assert not empty[0].any() and np.isfinite(empty).all()
    with pytest.raises(TypeError, match="wrap it"):
        embedder.embed("one string")


def test_names_cache_and_shipped_sae_resolve():
    from bertopic_sae import WordLlamaEmbedder
    from bertopic_sae.data import load_embedding_model
    from bertopic_sae.sae.pretrained import load_pretrained, pretrained_for
    from bertopic_sae.sae.resolve import canonical_model_name, embedding_model_name

    model = load_embedding_model("wordllama")
    assert isinstance(model, WordLlamaEmbedder)
    assert canonical_model_name("WordLlama") == "wordllama-l2_supercat-256"
    assert embedding_model_name(model) == "wordllama-l2_supercat-256"
    assert pretrained_for(256, embedding_model_name(model)) == "wordllama-256"
    assert pretrained_for(384, "wordllama") is None  # the width is checked too
    sae = load_pretrained("wordllama-256")
    codes = sae.encode_csr(model.embed(["The senate passed the budget bill today."]), float16_grid=True)
    assert sae.d_in == 256 and 0 < codes.nnz < 100


def test_bertopic_with_wordllama_saves_and_loads(tmp_path):
    from bertopic_sae import BERTopic, SAEAtomMerger, WordLlamaEmbedder
    from bertopic_sae.data import read_texts

    texts = read_texts("trump_tweets", limit=1500)
    topic_model = BERTopic(clustering_model=SAEAtomMerger(n_topics=8), embedding_model=WordLlamaEmbedder())
    topics, _ = topic_model.fit_transform(texts)  # embeds with WordLlama, sae="auto" finds wordllama-256
    assert topic_model.clustering_model.sae_.d_in == 256 and len(set(topics)) == 8
    topic_model.save(tmp_path / "m", serialization="safetensors", save_embedding_model="wordllama")
    loaded = BERTopic.load(tmp_path / "m")  # the recorded name rebuilds the WordLlama backend
    assert isinstance(loaded.embedding_model, WordLlamaEmbedder)
    again, _ = loaded.transform(texts[:200])
    np.testing.assert_array_equal(again, topic_model.transform(texts[:200])[0])
