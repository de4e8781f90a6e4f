"""The steering hook on the real SmolLM2, the steering evaluation, and SAE-TM's embedding-space directions."""

import numpy as np
import pytest
import torch

from bertopic_sae.judges import (
    EmbeddingJudge,
    LMLikelihoodJudge,
    MeanDifferenceDirections,
    retrieval_shift,
    sae_topic_direction,
    shift_embedding,
    steering_sweep,
    summarize,
)
from bertopic_sae.steering import decoder_blocks, steer

LAYER = 15


@pytest.fixture(scope="module")
def lm():
    from bertopic_sae.lm import load_causal_lm

    return load_causal_lm(device="cpu", verbose=False)


def _ids(lm, text="The weather today is"):
    return lm.tokenizer(text, return_tensors="pt").input_ids


def _block_output(lm, ids, layer):
    """Residual stream after block ``layer`` as the next block receives it (after any steering hook)."""
    seen = {}
    handle = decoder_blocks(lm.model)[layer - 1].register_forward_hook(
        lambda _m, _i, out: seen.setdefault("h", (out[0] if isinstance(out, tuple) else out).detach())
    )
    try:
        with torch.no_grad():
            lm.model(ids)
    finally:
        handle.remove()
    return seen["h"]


@pytest.mark.parametrize("mode", ["absolute", "relative"])
def test_hook_sets_the_component_along_the_direction(lm, mode):
    ids = _ids(lm)
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(0))
    unit = v / v.norm()
    plain = _block_output(lm, ids, LAYER)
    strength = 0.3 if mode == "relative" else 5.0
    with steer(lm.model, LAYER, v, strength, mode=mode):
        steered = _block_output(lm, ids, LAYER)  # registered after steer's hook: sees h'
    target = strength * plain.norm(dim=-1) if mode == "relative" else torch.full(plain.shape[:-1], strength)
    torch.testing.assert_close(steered @ unit, target, rtol=1e-4, atol=1e-3)
    # the part orthogonal to v is untouched
    ortho = lambda h: h - (h @ unit).unsqueeze(-1) * unit  # noqa: E731
    torch.testing.assert_close(ortho(steered), ortho(plain), rtol=1e-4, atol=1e-3)


def test_steering_changes_generation_and_is_removed_afterwards(lm):
    ids = _ids(lm, "Here is a short story:")
    generate = lambda: lm.model.generate(  # noqa: E731
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=12,
        do_sample=False,
        pad_token_id=lm.tokenizer.pad_token_id,
    )
    with torch.no_grad():
        before = generate()
        logits = lm.model(ids).logits
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), steer(lm.model, LAYER, v, 0.6, mode="relative"):
        steered = generate()
    with torch.no_grad():
        after = generate()
        torch.testing.assert_close(lm.model(ids).logits, logits)
    assert not torch.equal(before, steered)
    assert torch.equal(before, after)


def test_steer_rejects_bad_input(lm):
    v = torch.ones(lm.d_model)
    with pytest.raises(ValueError, match="out of range"):
        with steer(lm.model, 0, v, 1.0):
            pass
    with pytest.raises(ValueError, match="out of range"):
        with steer(lm.model, lm.n_layers + 1, v, 1.0):
            pass
    with pytest.raises(ValueError, match="values"):
        with steer(lm.model, LAYER, torch.ones(3), 1.0):
            pass
    with pytest.raises(ValueError, match="zero"):
        with steer(lm.model, LAYER, torch.zeros(lm.d_model), 1.0):
            pass
    with pytest.raises(ValueError, match="mode"):
        with steer(lm.model, LAYER, v, 1.0, mode="sideways"):
            pass
    with pytest.raises(ValueError, match="transformer blocks"):
        decoder_blocks(torch.nn.Linear(2, 2))


SPORT = [
    "The team won the football match after a late goal by the striker.",
    "The coach said the players trained hard before the league game.",
    "Fans cheered as the club won the championship final.",
    "The tennis player won the open after a long match.",
]
FOOD = [
    "Add the flour, butter and sugar, then bake the cake for forty minutes.",
    "The soup needs onions, garlic and a pinch of salt.",
    "Slice the tomatoes and cook the pasta in salted water.",
    "The recipe calls for fresh basil, olive oil and cheese.",
]


def test_mean_difference_directions_and_steering_sweep(lm):
    source = MeanDifferenceDirections(layer=LAYER, verbose=False).fit(lm, SPORT + FOOD, [0] * 4 + [1] * 4)
    v0, v1 = source.topic_direction(0), source.topic_direction(1)
    assert torch.isclose(v0.norm(), torch.tensor(1.0)) and float(v0 @ v1) < 0  # opposite sides of the mean
    with pytest.raises(KeyError):
        source.topic_direction(7)
    # tokens' components along v are ~-150 at this layer: setting them to +10 is a strong push
    rows = steering_sweep(
        lm,
        source,
        topics=[1],
        prompts=["Tell me about your weekend."],
        strengths=[0.0, 10.0],
        topic_words={1: ["recipe", "cook", "flour", "soup", "bake"]},
        topic_documents={1: FOOD},
        judge=EmbeddingJudge(),
        max_new_tokens=20,
        verbose=False,
    )
    assert len(rows) == 2 and all(np.isfinite(r.perplexity) and r.perplexity > 1 for r in rows)
    strong = rows[1]
    assert strong.text != strong.baseline and strong.relevance == 1.0  # the embedding judge sees food
    assert strong.delta_loglik > 0  # pushing along the food direction makes food text likelier
    # the likelihood judge agrees: the topic words are likelier after the steered continuation
    judge, words = LMLikelihoodJudge(lm), "recipe, cook, flour, soup, bake"
    assert judge.compare(strong.text, [words])[0] > judge.compare(strong.baseline, [words])[0]
    table = summarize(rows)
    assert [t["strength"] for t in table] == [0.0, 10.0] and table[1]["changed"] == 1.0


def test_sae_topic_direction_shifts_retrieval(bbc, small_sae, embedding_model):
    from bertopic_sae import BERTopic, SAEAtomMerger

    texts, _, embeddings = bbc
    model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=5, sae=small_sae), embedding_model=embedding_model
    )
    model.fit(texts, embeddings=embeddings)
    topics = np.asarray(model.topics_)
    topic = int(np.bincount(topics).argmax())
    u = sae_topic_direction(model, topic)
    assert u.shape == (embeddings.shape[1],) and np.isclose(np.linalg.norm(u), 1.0)
    e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    assert (e[topics == topic] @ u).mean() > (
        e[topics != topic] @ u
    ).mean()  # the topic's documents lie along it
    shifted = shift_embedding(e[0], u, 0.5)
    assert np.isclose(np.linalg.norm(shifted), 1.0)
    query = e[np.flatnonzero(topics != topic)[0]]  # a document of another topic
    shift = retrieval_shift(query, u, e, topics, topic, strengths=[0.0, 0.9], k=10)
    assert shift.topic_share[1] > shift.topic_share[0] and shift.topic_share[1] >= 0.5
    with pytest.raises(ValueError, match="SAEAtomMerger"):
        sae_topic_direction(object(), 0)


def test_skip_sinks_leaves_the_attention_sink_alone(lm):
    ids = _ids(lm, "The weather today is sunny and warm")
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(2))
    unit = v / v.norm()
    plain = _block_output(lm, ids, LAYER)
    norms = plain[0].norm(dim=-1)
    sinks = norms > 3 * norms.median()
    assert sinks[0] and not sinks.all()  # the first token is a massive-norm sink at this layer
    with steer(lm.model, LAYER, v, 5.0, skip_sinks=3.0):
        steered = _block_output(lm, ids, LAYER)
    torch.testing.assert_close(steered[0, sinks], plain[0, sinks])
    torch.testing.assert_close(
        steered[0, ~sinks] @ unit, torch.full((int((~sinks).sum()),), 5.0), atol=1e-3, rtol=1e-4
    )


def test_additive_steering_and_generated_positions_only(lm):
    ids = _ids(lm, "The weather today is sunny and warm")
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(3))
    unit = v / v.norm()
    plain = _block_output(lm, ids, LAYER)
    with steer(lm.model, LAYER, v, 7.0, replace=False):
        added = _block_output(lm, ids, LAYER)
    torch.testing.assert_close(added, plain + 7.0 * unit, rtol=1e-4, atol=1e-3)  # h + s v
    with steer(lm.model, LAYER, v, 7.0, positions="new"):
        last = _block_output(lm, ids, LAYER)
    torch.testing.assert_close(last[0, :-1], plain[0, :-1])  # the prompt's positions are left alone
    torch.testing.assert_close(last[0, -1] @ unit, torch.tensor(7.0), atol=1e-3, rtol=1e-4)
    with steer(lm.model, LAYER, v, 7.0, positions="new"):  # one-position calls (cached decoding): steered
        one = _block_output(lm, ids[:, :1], LAYER)
    torch.testing.assert_close(one[0, 0] @ unit, torch.tensor(7.0), atol=1e-3, rtol=1e-4)
    with pytest.raises(ValueError, match="positions"):
        with steer(lm.model, LAYER, v, 1.0, positions="prompt"):
            pass


def test_steering_along_a_content_feature_raises_the_likelihood_judges_relevance(lm):
    """A tiny real case: the first shipped SAE's 'exercise / workout' feature, added at the generated
    positions (feature ids belong to one SAE, so this one is loaded by name)."""
    from bertopic_sae.mtm import load_lm_sae

    bundle = load_lm_sae("smollm2-135m-instruct-L15")
    feature = 2053
    assert "exercise" in {t.strip() for t, _ in bundle.examples["top_tokens"][feature][:3]}
    prompt = "Write a few sentences about anything you like."
    plain = lm.generate(prompt, 20)
    direction = bundle.sae.W_dec.detach()[feature]
    with steer(lm.model, bundle.layer, direction, 50.0, replace=False, skip_sinks=3.0, positions="new"):
        steered = lm.generate(prompt, 20)
    assert steered != plain
    judge, words = LMLikelihoodJudge(lm), "exercise, workout, muscles, fitness, stretch"
    gain = judge.compare(steered, [words])[0] - judge.compare(plain, [words])[0]
    assert gain > 0.2  # nats per topic-word token: the steered text makes the topic words likelier
