"""Activations, the shipped SmolLM2 SAE and feature counts, on real text with the real SmolLM2-135M."""

import json

import numpy as np
import pytest
import torch

from bertopic_sae import SparseAutoencoder, load_pretrained
from bertopic_sae.mtm import FeatureStats, featurize, load_lm_sae
from bertopic_sae.mtm.activations import activations_to_shards, collect_activations
from bertopic_sae.mtm.descriptions import describe_feature, describe_features

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def lm():
    from bertopic_sae.lm import load_causal_lm

    torch.manual_seed(0)
    return load_causal_lm(device="cpu", verbose=False)


@pytest.fixture(scope="module")
def bundle():
    return load_lm_sae()


@pytest.fixture(scope="module")
def texts():
    from bertopic_sae.data import load_corpus

    return load_corpus("reuters", limit=24).texts


def test_activations_equal_the_full_forward_pass(lm):
    docs = [
        "Oil prices rose sharply on Monday.",
        "The team won.",
        "Shares of the bank fell after the report.",
    ]
    got = collect_activations(lm, docs, 15, batch_size=2, verbose=False)
    for d, doc in enumerate(docs):
        ids = lm.tokenizer(doc, add_special_tokens=False).input_ids
        with torch.no_grad():
            full = lm.model(torch.tensor([[lm.tokenizer.bos_token_id, *ids]]), output_hidden_states=True)
        expected = full.hidden_states[15][0, 1:].numpy()  # BOS (the attention sink) dropped
        assert got.n_tokens[d] == len(ids)
        np.testing.assert_allclose(got.acts[got.doc_index == d], expected, atol=2e-3, rtol=1e-3)
        assert got.token_ids[got.doc_index == d].tolist() == ids


def test_layer_and_width_errors(lm, bundle):
    with pytest.raises(ValueError, match="out of range"):
        collect_activations(lm, ["text"], 31, verbose=False)
    wrong = bundle._replace(sae=load_pretrained("minilm-l6-v2"))
    with pytest.raises(ValueError, match="576-d residual stream"):
        featurize(lm, wrong, ["some text"], verbose=False)


def test_shipped_sae_has_its_card_statistics_and_examples(bundle):
    assert bundle.model == "smollm2-135m-instruct" and bundle.layer == 15
    assert bundle.sae.d_in == 576 and bundle.stats is not None
    assert bundle.stats.thresholds.shape == (bundle.sae.d_sae,) and bundle.stats.source == "sae-training-data"
    firing = bundle.stats.firing_rate
    assert ((firing >= 0) & (firing <= 1)).all() and firing.max() > 0
    card = load_lm_sae().folder + "/README.md"
    text = open(card).read()
    for field in ("layer", "L0", "FVU", "dead features", "training tokens"):
        assert field in text
    alive = int(np.argmax(firing))
    description = describe_feature(bundle, alive)
    assert description.top_tokens and description.contexts and "[[" in description.contexts[0][0]
    assert describe_features(bundle, [alive], describer=lambda i, d: f"#{i}") == [f"#{alive}"]


def test_counts_follow_the_definition_and_the_filters(lm, bundle, texts):
    fc = featurize(lm, bundle, texts, max_tokens=40, verbose=False)
    acts = collect_activations(lm, texts, 15, max_tokens=40, verbose=False)
    with torch.no_grad():
        codes = bundle.sae.encode(torch.from_numpy(acts.acts)).acts.numpy()
    above = codes > bundle.stats.thresholds  # strictly greater (eq. 5)
    manual = np.stack([above[acts.doc_index == d].sum(0) for d in range(len(texts))])
    np.testing.assert_array_equal(fc.counts.toarray(), manual[:, fc.features])
    np.testing.assert_array_equal(fc.n_tok, acts.n_tokens)
    np.testing.assert_array_equal(fc.n_sae, manual[:, fc.features].sum(1))
    assert (bundle.stats.firing_rate[fc.features] <= 0.01).all()
    assert ((fc.counts > 0).mean(0) <= 0.9).all()
    dropped = np.setdiff1d(np.flatnonzero(manual.sum(0)), fc.features)
    assert dropped.size > 0  # the filters did remove something on real text
    assert fc.tokens_per_second > 0 and fc.threshold_source == "sae-training-data"


def test_filters_can_be_tried_again_without_the_lm(lm, bundle, texts):
    everything = featurize(lm, bundle, texts, max_tokens=40, max_firing_rate=1.0, max_doc_fraction=1.0,
                           mean_acts=True, verbose=False)
    paper = featurize(lm, bundle, texts, max_tokens=40, mean_acts=True, verbose=False)
    again = everything.filtered(bundle.stats.firing_rate)  # the default 1% / 90% filters, after the fact
    np.testing.assert_array_equal(again.features, paper.features)
    np.testing.assert_array_equal(again.counts.toarray(), paper.counts.toarray())
    np.testing.assert_array_equal(again.n_sae, paper.n_sae)
    np.testing.assert_allclose(again.mean_acts.toarray(), paper.mean_acts.toarray(), rtol=1e-6)
    looser = everything.filtered(bundle.stats.firing_rate, max_firing_rate=0.05)
    assert set(paper.features) < set(looser.features) <= set(everything.features)
    picked = everything.select(everything.features[[3, 0]])
    np.testing.assert_array_equal(picked.counts.toarray(), everything.counts.toarray()[:, [3, 0]])
    np.testing.assert_array_equal(picked.n_sae, everything.counts.toarray()[:, [3, 0]].sum(1))
    assert picked.n_tok is everything.n_tok
    dropped = np.setdiff1d(everything.features, paper.features)[0]
    with pytest.raises(ValueError, match="not columns of these counts"):
        paper.select([dropped])
    with pytest.raises(ValueError, match="more than once"):
        paper.select(paper.features[[0, 0]])
    with pytest.raises(ValueError, match="firing rates of the SAE"):
        paper.filtered(bundle.stats.firing_rate[:10])
    with pytest.raises(ValueError, match="Every feature was filtered out"):
        everything.filtered(bundle.stats.firing_rate, max_firing_rate=0.0)


def test_bad_corpora_get_clear_errors(lm, bundle, texts):
    with pytest.raises(ValueError, match="no token"):
        featurize(lm, bundle, [texts[0], ""], verbose=False)
    with pytest.raises(ValueError, match="Every feature was filtered out"):
        featurize(lm, bundle, texts[:4], max_firing_rate=0.0, max_tokens=16, verbose=False)


def test_corpus_fallback_thresholds(lm, bundle, texts):
    fallback = bundle._replace(stats=None)  # firing rates then come from these 8 x 24 tokens too
    fc = featurize(lm, fallback, texts[:8], max_tokens=24, max_firing_rate=0.1, mean_acts=True, verbose=False)
    assert fc.threshold_source == "corpus" and fc.counts.nnz > 0
    assert fc.mean_acts is not None and fc.mean_acts.shape == fc.counts.shape


def test_activation_shards_stream_and_resume(lm, tmp_path):
    from bertopic_sae.data import ShardedEmbeddings

    docs = ["First document here.", "A second, longer document about markets.", "Third.", "Fourth one."]
    manifest = activations_to_shards(lm, docs, 15, tmp_path / "acts", docs_per_shard=3, verbose=False)
    X = ShardedEmbeddings(tmp_path / "acts")
    direct = collect_activations(lm, docs, 15, verbose=False)
    assert X.shape == direct.acts.shape
    np.testing.assert_allclose(X[0 : X.shape[0]], direct.acts, atol=0.1, rtol=1e-2)  # stored as float16
    first = (tmp_path / "acts" / "shard-00000.npy").stat().st_mtime_ns
    activations_to_shards(lm, docs, 15, tmp_path / "acts", docs_per_shard=3, verbose=False)
    assert (tmp_path / "acts" / "shard-00000.npy").stat().st_mtime_ns == first  # finished shards are kept
    assert json.loads(manifest.read_text())["complete"]


def test_saelens_layout_checkpoint_loads_for_a_user_model_and_layer(tmp_path):
    from safetensors.torch import save_file

    rng = torch.Generator().manual_seed(0)
    d_in, d_sae = 576, 64
    tensors = {
        "W_enc": torch.randn(d_in, d_sae, generator=rng),
        "b_enc": torch.randn(d_sae, generator=rng),
        "W_dec": torch.randn(d_sae, d_in, generator=rng),
        "b_dec": torch.randn(d_in, generator=rng),
        "threshold": torch.rand(d_sae, generator=rng),
    }
    cfg = {
        "d_in": d_in,
        "d_sae": d_sae,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "architecture": "jumprelu",
        "metadata": {"model_name": "smollm2-135m-instruct", "hook_name": "blocks.14.hook_resid_post"},
    }
    folder = tmp_path / "saelens-sae"
    folder.mkdir()
    save_file(tensors, str(folder / "sae_weights.safetensors"))
    (folder / "cfg.json").write_text(json.dumps(cfg))
    bundle = load_lm_sae(folder)
    assert (bundle.model, bundle.layer, bundle.stats) == ("smollm2-135m-instruct", 15, None)
    x = torch.randn(5, d_in, generator=rng)
    pre = (x - tensors["b_dec"]) @ tensors["W_enc"] + tensors["b_enc"]
    expected = torch.relu(pre) * (pre > tensors["threshold"])  # SAELens JumpReLU
    torch.testing.assert_close(bundle.sae.encode(x).acts, expected)
    assert isinstance(bundle.sae, SparseAutoencoder)
    FeatureStats(np.ones(d_sae), np.zeros(d_sae), n_tokens=10).save(folder)
    assert load_lm_sae(folder).stats.n_tokens == 10
    (folder / "cfg.json").write_text(json.dumps({**cfg, "metadata": {}}))
    with pytest.raises(ValueError, match="pass model=... and layer="):
        load_lm_sae(folder)
