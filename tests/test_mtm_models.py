"""mLDA, mETM and mBERTopic on real text with the real SmolLM2-135M and the shipped SAE."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from bertopic_sae.mtm import METM, MLDA, MBERTopic, featurize, load_lm_sae, load_model

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def setup():
    from bertopic_sae.data import load_corpus
    from bertopic_sae.lm import load_causal_lm

    lm = load_causal_lm(device="cpu", verbose=False)
    bundle = load_lm_sae()
    texts = load_corpus("reuters", limit=48).texts
    fc = featurize(lm, bundle, texts, max_tokens=48, mean_acts=True, verbose=False)
    return lm, bundle, texts, fc


MODELS = {
    "mlda": lambda **kw: MLDA(5, iterations=200, **kw),
    "metm": lambda **kw: METM(5, epochs=60, **kw),
    "mbertopic": lambda **kw: MBERTopic(4, min_topic_size=4, **kw),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_fits_transforms_reads_saves_and_steers(setup, name, tmp_path):
    lm, bundle, texts, fc = setup
    model = MODELS[name](sae=bundle, lm=lm, max_tokens=48, verbose=False)
    with pytest.raises(NotFittedError):
        model.transform(texts[:2], features=fc)
    theta = model.fit_transform(texts, features=fc)
    K = model.topic_feature_.shape[0]
    assert theta.shape == (len(texts), K) and K >= 2
    assert np.all(theta >= 0) and np.all(theta.sum(1) <= 1 + 1e-5)
    if name != "mbertopic":  # mBERTopic's θ is a hard assignment with zero rows for outliers
        np.testing.assert_allclose(theta.sum(1), 1, atol=1e-4)
        assert (theta.max(1) > 1.5 / K).mean() > 0.5  # documents are not spread evenly over topics
    top_words = model.topic_words(10)
    assert len({tuple(sorted(w)) for w in top_words}) == K
    if name != "mbertopic":  # not collapsed onto a few topics: at least K/2 of them win a document
        assert len(set(theta.argmax(1).tolist())) >= K / 2
    assert all(w in set(model.vocabulary_) for words in top_words for w in words)
    features = model.get_topic_features(0, 5)
    assert {f for f, _ in features} <= set(fc.features.tolist())
    assert len(model.describe_topic(0, 3)) == 3
    head = fc._replace(
        counts=fc.counts[:6], n_sae=fc.n_sae[:6], n_tok=fc.n_tok[:6], mean_acts=fc.mean_acts[:6]
    )
    with pytest.raises(ValueError, match="rows"):
        model.transform(texts[:5], features=head)
    again = model.transform(texts[:6], features=head)
    assert again.shape == (6, K)
    model.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model", lm=lm)
    assert type(loaded) is type(model)
    np.testing.assert_allclose(loaded.topic_feature_, model.topic_feature_)
    np.testing.assert_allclose(loaded.transform(texts[:6], features=head), again, atol=1e-5)
    direction = model.topic_direction(0)
    assert direction.shape == (576,) and abs(float(direction.norm()) - 1) < 1e-5
    ids = lm.tokenizer("The weather today is", return_tensors="pt").input_ids
    with torch.no_grad():
        plain = lm.model(ids).logits[0, -1]
        with model.steer(0, strength=40.0):
            steered = lm.model(ids).logits[0, -1]
    assert not torch.allclose(plain, steered, atol=1e-3)
    if name == "mlda":  # the generate helper: greedy reply through the chat template, hooks applied
        reply = lm.generate("Write one sentence about the news.", max_new_tokens=8)
        ids = lm.prompt_ids("Write one sentence about the news.")
        with torch.no_grad():
            out = lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=8,
                                    do_sample=False, pad_token_id=lm.tokenizer.pad_token_id)
        assert reply == lm.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip() != ""
        with model.steer(0, strength=80.0):
            assert lm.generate("Write one sentence about the news.", max_new_tokens=8) != reply


def test_mbertopic_plots_show_features(setup):
    lm, bundle, texts, fc = setup
    model = MBERTopic(4, min_topic_size=4, sae=bundle, lm=lm, verbose=False).fit(texts, features=fc)
    assert model.bertopic_.visualize_barchart() is not None
    assert all(word.startswith("f") for word, _ in model.bertopic_.get_topic(int(model.topic_ids_[0])))


def test_bad_parameters(setup):
    lm, bundle, texts, fc = setup
    with pytest.raises(ValueError, match="n_topics"):
        MLDA(1, sae=bundle, lm=lm).fit(texts, features=fc)
    with pytest.raises(ValueError, match="more documents"):
        MLDA(100, sae=bundle, lm=lm).fit(texts, features=fc)
    with pytest.raises(ValueError, match="rows"):
        MLDA(3, sae=bundle, lm=lm).fit(texts[:10], features=fc)
    with pytest.raises(ValueError, match="thresholds"):
        METM(3, sae=bundle._replace(stats=None), lm=lm, verbose=False).fit(texts, features=fc)
    with pytest.raises(ValueError, match="init"):
        METM(3, sae=bundle, lm=lm, init="zeros", verbose=False).fit(texts, features=fc)
    with pytest.raises(ValueError, match="mixing"):
        METM(3, sae=bundle, lm=lm, mixing="sum", verbose=False).fit(texts, features=fc)
    with pytest.raises(ValueError, match="kl_warmup"):
        METM(3, sae=bundle, lm=lm, kl_warmup=2.0, verbose=False).fit(texts, features=fc)


def test_metm_topics_are_not_collapsed_on_20newsgroups(setup):
    from bertopic_sae.data import load_corpus

    lm, bundle, _, _ = setup
    corpus = load_corpus("20newsgroups")
    rng = np.random.default_rng(0)
    texts = [corpus.texts[i] for i in rng.choice(len(corpus.texts), 400, replace=False)]
    texts = [t for t in texts if len(t.split()) >= 20][:80]
    fc = featurize(lm, bundle, texts, max_tokens=48, verbose=False)
    K = 8
    model = METM(K, sae=bundle, lm=lm, verbose=False).fit(texts, features=fc)
    used = len(set(model.doc_topic_.argmax(1).tolist()))
    top = [f for k in range(K) for f, _ in model.get_topic_features(k, 10)]
    words = [w for ws in model.topic_words(10) for w in ws]
    assert used >= K / 2, f"only {used} of {K} topics win a document"
    assert len(set(top)) / len(top) > 2 / K and len(set(words)) / len(words) > 2 / K


def test_topic_direction_options(setup):
    lm, bundle, texts, fc = setup
    model = MLDA(5, iterations=200, sae=bundle, lm=lm, max_tokens=48, verbose=False).fit(texts, fc)
    bias = bundle.sae.b_dec.detach().float()
    bias = bias / bias.norm()
    plain = model.topic_direction(0)
    cleaned = model.topic_direction(0, weighting="specific", remove_bias=True)
    for v in (plain, cleaned):
        assert v.shape == (576,) and abs(float(v.norm()) - 1) < 1e-5
    assert abs(float(cleaned @ bias)) < 1e-5  # the decoder bias direction is projected out
    assert not torch.allclose(plain, cleaned, atol=1e-3)
    beta = model.topic_feature_
    specific = np.clip(beta[0] - beta.mean(0), 0, None)
    expected = torch.as_tensor(specific, dtype=torch.float32) @ bundle.sae.W_dec.detach().float()[
        torch.as_tensor(model.features_)
    ]
    torch.testing.assert_close(model.topic_direction(0, weighting="specific"), expected / expected.norm())
    from bertopic_sae.mtm.descriptions import content_features

    words = content_features(bundle, model.features_)
    assert 0 < words.sum() < len(words)  # digits / punctuation / stop-word features are left out
    ex = bundle.examples["top_tokens"]
    assert all(any(c.isalpha() for t, _ in ex[int(f)][:4] for c in t) for f in model.features_[words])
    with pytest.raises(ValueError, match="weighting"):
        model.topic_direction(0, weighting="lift")
    ids = lm.tokenizer("The weather today is", return_tensors="pt").input_ids
    with torch.no_grad():
        before = lm.model(ids).logits[0, -1]
        with model.steer(0, 25.0, weighting="specific", content_only=True, remove_bias=True, skip_sinks=3.0):
            after = lm.model(ids).logits[0, -1]
    assert not torch.allclose(before, after, atol=1e-3)
