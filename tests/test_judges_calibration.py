"""Position-bias remedies: contextual calibration, the likelihood (PMI) judge, C_I word/likelihood answers."""

import math

import numpy as np
import pytest

from bertopic_sae.judges import (
    SIMPLE_TOPIC_JUDGE_PROMPT,
    Comparison,
    LMJudge,
    LMLikelihoodJudge,
    ModelTopics,
    TextJudge,
    calibrate,
    choose_many,
    coherence_rating,
    compare_models,
    content_free_bias,
    content_free_offsets,
    intruder_detection,
    sequence_log_probs,
)

TOPICS = [
    ["game", "team", "player", "season", "coach", "league"],
    ["stock", "market", "share", "investor", "bank", "price"],
    ["film", "actor", "movie", "director", "award", "cinema"],
    ["rain", "weather", "storm", "wind", "snow", "forecast"],
]
DOCS = [
    "The striker scored twice as the team won the season opener in the league.",
    "Shares fell sharply as investors sold bank stock after the market opened.",
    "The director's new movie won the festival's top award for best film.",
    "Heavy snow and strong wind are expected tonight, the forecast says.",
]


@pytest.fixture(scope="module")
def lm():
    from bertopic_sae.lm import load_causal_lm

    return load_causal_lm(device="cpu", verbose=False)


def test_calibrate_removes_a_constant_position_bias():
    # a judge that adds +2 log-odds to "A": the truth is "x" on every document, by a margin of 1
    sigmoid = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    raw = [Comparison(d, "x", "y", sigmoid(2 + 1), "x") for d in range(3)] + [
        Comparison(d, "y", "x", sigmoid(2 - 1), "y") for d in range(3)
    ]
    assert sum(c.winner == c.first for c in raw) == 6  # before: A always wins
    fixed = calibrate(raw, 2.0)
    assert all(c.winner == "x" for c in fixed)
    assert math.isclose(fixed[0].p_first, sigmoid(1)) and math.isclose(fixed[3].p_first, sigmoid(-1))
    tie, failure = Comparison(9, "x", "y", 0.5, None), Comparison(9, "x", "y", float("nan"), None, "boom")
    assert calibrate([tie, failure], 2.0) == [tie, failure]  # ties and failures are kept as they are


def test_calibration_needs_log_probs_and_is_uniform_on_the_content_free_prompt(lm):
    judge = LMJudge(lm, verbose=False)
    blank = [SIMPLE_TOPIC_JUDGE_PROMPT.format(document=x, a=x, b=x) for x in ("N/A", "", "[MASK]")]
    offsets = content_free_offsets(judge, blank, ["A", "B"])
    assert offsets.shape == (2,) and math.isclose(np.exp(offsets).sum(), 1.0, rel_tol=1e-6)
    bias = content_free_bias(judge, SIMPLE_TOPIC_JUDGE_PROMPT)
    assert math.isclose(bias, offsets[0] - offsets[1])
    raw = np.array(choose_many(judge, blank[:1], ["A", "B"]))
    one = content_free_offsets(judge, blank[:1], ["A", "B"])
    calibrated = np.array(choose_many(judge, blank[:1], ["A", "B"], calibration=one))
    assert abs(raw[0, 0] - 0.5) > 0.05  # the judge is biased on content-free input ...
    np.testing.assert_allclose(calibrated, 0.5, atol=1e-6)  # ... and calibrated on it, exactly unbiased
    with pytest.raises(ValueError, match="label_log_probs"):
        content_free_offsets(TextJudge(lambda p: "A"), blank, ["A", "B"])
    with pytest.raises(ValueError, match="label_log_probs"):
        choose_many(TextJudge(lambda p: "A"), blank, ["A", "B"], calibration=offsets)


def test_sequence_log_probs_batches_like_single_sequences(lm):
    tok = lambda t: lm.tokenizer.encode(t, add_special_tokens=False)  # noqa: E731
    contexts = [tok("The cat sat on the"), tok("Stocks"), tok("I like")]
    conts = [tok(" mat"), tok(" fell sharply today"), tok(" pizza")]
    batched = sequence_log_probs(lm, contexts, conts, batch_size=3)
    single = np.array([sequence_log_probs(lm, [c], [x])[0] for c, x in zip(contexts, conts, strict=True)])
    np.testing.assert_allclose(batched, single, atol=1e-3)
    assert np.all(batched < 0)
    with pytest.raises(ValueError, match="at least one token"):
        sequence_log_probs(lm, [[]], [tok(" a")])


def test_likelihood_judge_picks_each_documents_topic(lm):
    judge = LMLikelihoodJudge(lm)
    renderings = ["- " + ", ".join(t[:5]) for t in TOPICS]
    scores = np.array([judge.compare(d, renderings) for d in DOCS])
    assert list(scores.argmax(1)) == [0, 1, 2, 3]
    # as a topic judge in compare_models: the matching model wins every comparison
    good, bad = np.eye(4), np.eye(4)[[1, 2, 3, 0]]
    views = [ModelTopics("good", TOPICS, good), ModelTopics("bad", TOPICS, bad)]
    found = compare_models(views, DOCS, judge, docs=[0, 1, 2, 3], n_words=5, verbose=False)
    assert all(c.winner == "good" for c in found)


def test_intruder_detection_answer_modes(lm):
    likelihood = intruder_detection(TOPICS, LMLikelihoodJudge(lm), repetitions=2, answer="likelihood")
    assert likelihood.n_questions == 8 and likelihood.n_failures == 0
    assert likelihood.mean >= 0.75  # chance is 1/6
    word = intruder_detection(
        TOPICS[:2], LMJudge(lm, verbose=False), repetitions=1, answer="word", calibrate=True
    )
    assert word.n_questions == 2 and np.all(np.isin(word.per_topic, [0.0, 1.0]))
    with pytest.raises(ValueError, match="LMLikelihoodJudge"):
        intruder_detection(TOPICS, TextJudge(lambda p: "A"), answer="likelihood")
    with pytest.raises(ValueError, match="LMJudge"):
        intruder_detection(TOPICS, TextJudge(lambda p: "A"), answer="word")
    with pytest.raises(ValueError, match="answer="):
        intruder_detection(TOPICS, TextJudge(lambda p: "A"), answer="guess")
    rated = coherence_rating(TOPICS[:1], LMJudge(lm, verbose=False), repetitions=1, calibrate=True)
    assert 0.0 <= rated.mean <= 100.0 and rated.n_questions == 1


def test_prompt_is_part_of_the_cache_key(tmp_path):
    calls = []

    def judge(prompt: str) -> str:
        calls.append(prompt)
        return "A"

    views = [ModelTopics("good", TOPICS, np.eye(4)), ModelTopics("bad", TOPICS, np.eye(4)[[1, 2, 3, 0]])]
    cache = tmp_path / "c.jsonl"
    run = lambda **kw: compare_models(  # noqa: E731
        views, DOCS, TextJudge(judge, name="t"), docs=[0, 1], cache=cache, verbose=False, **kw
    )
    run()
    run()
    assert len(calls) == 2  # the second run is read from the cache
    run(prompt=SIMPLE_TOPIC_JUDGE_PROMPT)
    assert len(calls) == 4 and calls[-1].startswith("Text: ")  # a new prompt is asked afresh
