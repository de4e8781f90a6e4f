"""Judges and the topic judge: real SmolLM2 and MiniLM, local callables for the text judge."""

import json
import math

import numpy as np
import pytest

from bertopic_sae.judges import (
    Comparison,
    EmbeddingJudge,
    JudgeFailure,
    LMJudge,
    ModelTopics,
    TextJudge,
    bradley_terry_elo,
    combine_orders,
    compare_models,
    judge_agreement,
    one_order,
    position_bias,
)

TOPICS = [
    ["game", "team", "player", "season", "coach", "league"],
    ["stock", "market", "share", "investor", "bank", "price"],
    ["film", "actor", "movie", "director", "award", "cinema"],
]
DOCS = [
    "The striker scored twice as the team won the season opener in the league.",
    "Shares fell sharply as investors sold bank stock after the market opened.",
    "The director's new movie won the festival's top award for best film.",
    "The coach praised his players after a hard game.",
]
GOOD = np.eye(3)[[0, 1, 2, 0]]
BAD = np.eye(3)[[2, 0, 1, 1]]


@pytest.fixture(scope="module")
def lm():
    from bertopic_sae.lm import load_causal_lm

    return load_causal_lm(device="cpu", verbose=False)


def test_text_judge_parses_strictly_and_fails_loudly():
    for reply, index in [("A", 0), (" b.", 1), ("Answer: B", 1), ("'A'", 0), ("B) because", 1)]:
        assert np.argmax(TextJudge(lambda p, r=reply: r).choose("?", ["A", "B"])) == index
    for reply in ["Maybe", "AB", "", "C"]:
        with pytest.raises(JudgeFailure):
            TextJudge(lambda p, r=reply: r).choose("?", ["A", "B"])


def test_lm_judge_reads_label_probabilities_and_batches_like_single_prompts(lm):
    judge = LMJudge(lm, batch_size=3, verbose=False)
    prompts = [
        "Which word is an animal? A: dog B: table. Answer A or B.",
        "Which word is a colour? A: chair B: red. Answer with A or B only.",
        "Is Paris in France? Answer A for yes, B for no.",
    ]
    batched = np.array(judge.choose_many(prompts, ["A", "B"]))
    single = np.array([judge.choose(p, ["A", "B"]) for p in prompts])
    assert batched.shape == (3, 2)
    np.testing.assert_allclose(batched.sum(1), 1.0)
    np.testing.assert_allclose(
        batched, single, atol=2e-3
    )  # left padding + positions leave answers unchanged
    with pytest.raises(ValueError, match="single-token"):
        judge.choose("?", ["A", "maybe not"])
    with pytest.raises(ValueError, match="max_prompt_tokens"):
        LMJudge(lm, max_prompt_tokens=5).choose(prompts[0], ["A", "B"])


def test_embedding_judge_prefers_the_model_whose_topics_match(embedding_model):
    views = [ModelTopics("good", TOPICS, GOOD), ModelTopics("bad", TOPICS, BAD)]
    comparisons = compare_models(views, DOCS, EmbeddingJudge(embedding_model), n_docs=4, verbose=False)
    assert len(comparisons) == 4 and all(c.winner == "good" for c in comparisons)
    table = bradley_terry_elo(comparisons, n_bootstrap=50)
    assert table.elo[table.models.index("good")] > table.elo[table.models.index("bad")]
    assert math.isclose(table.elo.mean(), 1500.0)


def test_topic_judge_counts_failures_caches_and_resumes(tmp_path):
    calls, server = [], {"down": True}

    def flaky(prompt: str) -> str:
        calls.append(prompt)
        if "opener" in prompt:
            return "I cannot tell"  # not A/B: a recorded failure (cached)
        if "award" in prompt and server["down"]:
            raise ConnectionError("server down")  # an exception: counted, retried on the next run
        return "A"

    views = [
        ModelTopics("good", TOPICS, GOOD),
        ModelTopics("bad", TOPICS, BAD),
        ModelTopics("same", TOPICS, GOOD),
    ]
    cache = tmp_path / "judge.jsonl"
    first = compare_models(
        views, DOCS, TextJudge(flaky, name="flaky"), n_docs=4, cache=cache, verbose=False
    )
    # 4 docs x 3 pairs; good vs same shows identical topics: a tie, no call.
    assert len(first) == 12 and len(calls) == 8
    failures = [c for c in first if c.failure]
    assert {c.doc for c in failures} == {0, 2} and len(failures) == 4
    assert any("ConnectionError" in c.failure for c in failures) and any(
        "JudgeFailure" in c.failure for c in failures
    )
    assert sum(c.winner is None and c.failure is None for c in first) == 4
    assert {c.first for c in first} >= {"good", "bad"}  # random A/B order
    table = bradley_terry_elo(first, n_bootstrap=20)
    assert table.failures == 4 and table.ties == 4
    lines = [json.loads(line) for line in cache.read_text().splitlines()]
    assert len(lines) == 6  # 4 answers + 2 non-A/B failures; the 2 exceptions are not cached
    with cache.open("a") as handle:
        handle.write('{"key": "cut by a crash')  # a half-written last line is ignored on resume
    calls.clear()
    server["down"] = False
    again = compare_models(
        views, DOCS, TextJudge(flaky, name="flaky"), n_docs=4, cache=cache, verbose=False
    )
    assert len(calls) == 2  # only the two that raised are asked again (and now answered)
    assert sum(c.failure is not None for c in again) == 2
    assert [(c.doc, c.first, c.second) for c in again] == [(c.doc, c.first, c.second) for c in first]


def test_lm_topic_judge_both_orders_on_smollm(lm):
    views = [ModelTopics("good", TOPICS, GOOD), ModelTopics("bad", TOPICS, BAD)]
    comparisons = compare_models(
        views, DOCS, LMJudge(lm, verbose=False), n_docs=3, both_orders=True, verbose=False
    )
    assert len(comparisons) == 6 and not any(c.failure for c in comparisons)
    assert all(0.0 <= c.p_first <= 1.0 for c in comparisons)
    assert {(c.first, c.second) for c in comparisons} == {("good", "bad"), ("bad", "good")}
    bias = position_bias(comparisons)
    assert bias.n == 6 and 0.0 <= bias.first_rate <= 1.0 and 0.0 <= bias.flip_rate <= 1.0
    combined = combine_orders(comparisons)
    assert len(combined) == 3 and len(one_order(comparisons)) == 3
    for c in combined:  # the order-averaged verdict is the mean over both orders
        pair = [x for x in comparisons if x.doc == c.doc]
        expected = np.mean([x.p_first if x.first == c.first else 1 - x.p_first for x in pair])
        assert math.isclose(c.p_first, expected)


def test_bradley_terry_recovers_strengths_with_bootstrap_bounds():
    rng = np.random.default_rng(0)
    strength = {"a": 1.0, "b": 0.0, "c": -1.0}
    comparisons = []
    for doc in range(300):
        x, y = rng.choice(list(strength), 2, replace=False)
        p = 1 / (1 + math.exp(strength[y] - strength[x]))
        comparisons.append(Comparison(doc, x, y, p, x if rng.random() < p else y))
    table = bradley_terry_elo(comparisons, n_bootstrap=200)
    assert table.models == ["a", "b", "c"]
    assert table.elo[0] > table.elo[1] > table.elo[2]
    assert np.all(table.low <= table.elo) and np.all(table.elo <= table.high)
    # a one-logit gap is 400 / ln 10 = 174 Elo points
    assert abs((table.elo[0] - table.elo[2]) / 2 - 174) < 60
    with pytest.raises(ValueError, match="no decided"):
        bradley_terry_elo([Comparison(0, "a", "b", 0.5, None)])


def test_agreement_and_position_bias_from_known_verdicts():
    truth = [Comparison(d, "a", "b", 0.9, "a") for d in range(10)]
    other = [
        Comparison(d, "a", "b", 0.9, "a") if d < 8 else Comparison(d, "a", "b", 0.1, "b") for d in range(10)
    ]
    agreement = judge_agreement(truth, other)
    assert agreement.n_common == 10 and math.isclose(agreement.pair_agreement, 0.8)
    assert math.isclose(agreement.spearman, 1.0)
    always_a = [Comparison(d, f, s, 0.9, f) for d in range(5) for f, s in [("a", "b"), ("b", "a")]]
    bias = position_bias(always_a)
    assert bias.first_rate == 1.0 and bias.flip_rate == 1.0
    combined = combine_orders(always_a)
    assert all(c.winner is None and math.isclose(c.p_first, 0.5) for c in combined)  # bias cancels out


def test_model_topics_adapters(bbc, small_sae, embedding_model):
    from bertopic_sae import BERTopic, SAEAtomMerger

    texts, _, embeddings = bbc
    model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=5, sae=small_sae), embedding_model=embedding_model
    )
    model.fit(texts, embeddings=embeddings)
    view = ModelTopics.from_bertopic("sae-tm", model)
    assert len(view.topic_words) == 5 and all(len(w) == 10 for w in view.topic_words)
    assert view.doc_topic.shape == (len(texts), 5)
    rendered = view.render(0, top_topics=2, n_words=4)
    assert rendered.count("\n") == 1 and rendered.startswith("- ")
    octis = ModelTopics.from_octis("lda", {"topics": TOPICS, "topic-document-matrix": GOOD.T})
    assert octis.render(1) == "- " + ", ".join(TOPICS[1])
    assert ModelTopics("none", TOPICS, np.zeros((4, 3))).render(0) == "(no topic)"
    with pytest.raises(ValueError, match="document rows"):
        compare_models([view, octis], DOCS, EmbeddingJudge(embedding_model), verbose=False)
