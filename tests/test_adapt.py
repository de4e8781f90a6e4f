"""Corpus adaptation (``adapt=``): the fine-tuned copy, the rule, bad values, fitting, save/load."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from bertopic_sae import BERTopic, SAEAtomMerger, TrainConfig  # noqa: E402
from bertopic_sae.sae.adapt import adapt_sae, fine_tune_sae, should_adapt  # noqa: E402
from bertopic_sae.tm.state import fit_stages  # noqa: E402


def weights(sae):
    return {name: tensor.detach().clone() for name, tensor in sae.state_tensors().items()}


def test_fine_tune_trains_a_copy_and_keeps_the_bias(bbc, small_sae):
    _, _, embeddings = bbc
    before = weights(small_sae)
    tuned = fine_tune_sae(small_sae, embeddings, steps=20, seed=0)
    for name, tensor in weights(small_sae).items():  # the given SAE is untouched
        assert torch.equal(tensor, before[name]), name
    assert tuned is not small_sae
    assert not torch.equal(weights(tuned)["W_enc"], before["W_enc"])
    assert tuned.metadata["adapted"]["steps"] == 20 and tuned.metadata["adapted"]["n_docs"] == len(embeddings)
    # Continuing training must not reset the decoder bias to the data mean (a new SAE's initialisation).
    tiny = fine_tune_sae(small_sae, embeddings, steps=1, lr=1e-12)
    torch.testing.assert_close(weights(tiny)["b_dec"], before["b_dec"], atol=1e-6, rtol=0)
    # Same seed, same copy (CPU).
    again = fine_tune_sae(small_sae, embeddings, steps=20, seed=0)
    torch.testing.assert_close(weights(again)["W_enc"], weights(tuned)["W_enc"])


def test_rule_and_bad_values(bbc, small_sae):
    _, _, embeddings = bbc
    assert should_adapt("auto", 600, 600) and not should_adapt("auto", 601, 600)
    assert should_adapt("fine-tune", 10**6, 0) and not should_adapt("never", 10, 10**6)
    assert adapt_sae(small_sae, embeddings, adapt="auto", max_docs=100) is small_sae
    with pytest.raises(ValueError, match="adapt must be one of"):
        should_adapt("fine_tune", 10, 10)
    with pytest.raises(ValueError, match="adapt_max_docs must be an integer"):
        should_adapt("auto", 10, -1)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        fine_tune_sae(small_sae, embeddings, steps=0)
    with pytest.raises(ValueError, match="adapt must be one of"):
        fit_stages(embeddings, sae=small_sae, adapt="always")
    with pytest.raises(ValueError, match="adapt_steps must be a positive integer"):
        fit_stages(embeddings, sae=small_sae, adapt="fine-tune", adapt_steps=2.5)
    with pytest.raises(ValueError, match="adapt must be one of"):
        SAEAtomMerger(n_topics=5, sae=small_sae, adapt="yes").fit(embeddings)
    # An SAE trained on the documents themselves is never adapted again.
    trained = fit_stages(embeddings[:300], sae="train", adapt="fine-tune",
                         train_config=TrainConfig(steps=30, verbose=False))
    assert not trained.adapted


def test_merger_adapts_small_corpora_and_saves_it(bbc, small_sae, embedding_model, tmp_path):
    texts, _, embeddings = bbc
    frozen = fit_stages(embeddings, sae=small_sae, adapt="auto", adapt_max_docs=len(texts) - 1)
    assert not frozen.adapted and frozen.sae is small_sae
    merger = SAEAtomMerger(n_topics=6, sae=small_sae, adapt="auto", adapt_max_docs=len(texts), adapt_steps=30)
    model = BERTopic(clustering_model=merger, embedding_model=embedding_model)
    model.fit_transform(texts, embeddings)
    merger = model.hdbscan_model
    assert merger.adapted_ and merger.sae_ is not small_sae
    assert merger.sae_.metadata["adapted"]["steps"] == 30
    expected = merger.sae_.encode_csr(embeddings, float16_grid=True)
    assert (merger.codes_ != expected).nnz == 0  # the topics come from the adapted SAE's codes
    assert (frozen.codes != expected).nnz > 0
    model.save(tmp_path / "model", serialization="safetensors", save_embedding_model=False)
    loaded = BERTopic.load(str(tmp_path / "model"), embedding_model=embedding_model)
    assert loaded.hdbscan_model.adapted_ and loaded.hdbscan_model.adapt == "auto"
    assert loaded.hdbscan_model.adapt_max_docs == len(texts) and loaded.hdbscan_model.adapt_steps == 30
    torch.testing.assert_close(weights(loaded.hdbscan_model.sae_)["W_enc"], weights(merger.sae_)["W_enc"])
    np.testing.assert_array_equal(loaded.transform(texts[:20], embeddings[:20])[0],
                                  model.transform(texts[:20], embeddings[:20])[0])
    # A model saved before the option existed loads as not adapted.
    config_path = tmp_path / "model" / "sae_merger.json"
    config = json.loads(config_path.read_text())
    del config["merger_state"]["adapted"]
    for key in ("adapt", "adapt_max_docs", "adapt_steps"):
        del config["merger_params"][key]
    config_path.write_text(json.dumps(config))
    old = BERTopic.load(str(tmp_path / "model"), embedding_model=embedding_model).hdbscan_model
    assert not old.adapted_ and old.adapt == "never"
