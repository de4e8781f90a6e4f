"""SAE-TM's LLM metrics C_I and C_R: oracle and failing callables, and the real SmolLM2 judge."""

import re

import numpy as np
import pytest

from bertopic_sae.judges import LMJudge, coherence_rating, intruder_detection

TOPICS = [
    [
        "game",
        "team",
        "player",
        "season",
        "coach",
        "league",
        "stock",
    ],  # 'stock' is also another topic's word
    ["stock", "market", "share", "investor", "bank", "price"],
    ["film", "actor", "movie", "director", "award", "cinema"],
]


def _options(prompt: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-F])\. (\S+)$", prompt, flags=re.M))


def test_intruder_is_never_a_topic_word_and_an_oracle_scores_one():
    seen = []

    def oracle(prompt: str) -> str:
        options = _options(prompt)
        assert len(options) == 6
        owner = next(t for t in TOPICS if sum(w in t for w in options.values()) == 5)
        intruders = [letter for letter, w in options.items() if w not in owner]
        assert len(intruders) == 1  # checked: the intruder is none of the topic's own words
        seen.append(options[intruders[0]])
        return intruders[0]

    scores = intruder_detection(TOPICS, oracle, repetitions=3, seed=1)
    assert scores.n_questions == 9 and scores.n_failures == 0
    np.testing.assert_allclose(scores.per_topic, 1.0)
    assert "stock" not in [w for w, k in zip(seen, np.repeat(range(3), 3), strict=True) if k == 0]


def test_intruder_failures_are_counted_not_dropped():
    def refuses_film(prompt: str) -> str:
        return "none of them" if "film" in _options(prompt).values() else "A"

    scores = intruder_detection(TOPICS, refuses_film, repetitions=3)
    assert scores.n_failures >= 3 and np.isnan(scores.per_topic[2])
    assert np.isfinite(scores.per_topic[:2]).all()
    with pytest.raises(ValueError, match="no intruder"):
        intruder_detection([["a", "b", "c", "d", "e"], ["a", "b", "c", "d", "e"]], lambda p: "A")
    with pytest.raises(ValueError, match="fewer than"):
        intruder_detection([["a", "b"], ["c", "d", "e", "f", "g"]], lambda p: "A")


def test_coherence_rating_is_the_expected_digit_on_0_100():
    scores = coherence_rating(TOPICS, lambda prompt: "7", repetitions=2)
    np.testing.assert_allclose(scores.per_topic, 700 / 9)
    assert scores.n_questions == 6


def test_llm_metrics_on_smollm():
    from bertopic_sae.lm import load_causal_lm

    judge = LMJudge(load_causal_lm(device="cpu", verbose=False), verbose=False)
    ci = intruder_detection(TOPICS, judge, repetitions=1)
    cr = coherence_rating(TOPICS, judge, repetitions=1)
    assert ci.n_failures == 0 and set(np.unique(ci.per_topic)) <= {0.0, 1.0}
    assert cr.n_failures == 0 and np.all((cr.per_topic >= 0) & (cr.per_topic <= 100))
    # the expected value is soft: not one of the ten digit values
    assert not np.any(np.isclose(cr.per_topic[:, None], np.arange(10) * 100 / 9).any(axis=1))


def test_judge_cli_scores_a_topics_file_and_resumes(tmp_path):
    import csv
    import json

    from bertopic_sae.judges.cli import main

    topics = tmp_path / "topics.jsonl"
    topics.write_text("\n".join(json.dumps({"model": m, "topics": TOPICS}) for m in ("x", "y")) + "\n")
    out = tmp_path / "scores.csv"
    assert main([str(topics), "--out", str(out), "--metrics", "C_I", "--repetitions", "1", "-q"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [(r["model"], r["metric"]) for r in rows] == [("x", "C_I"), ("y", "C_I")]
    assert all(0 <= float(r["mean"]) <= 1 and r["n_failures"] == "0" for r in rows)
    assert main([str(topics), "--out", str(out), "--metrics", "C_I", "--repetitions", "1", "-q"]) == 0
    assert len(list(csv.DictReader(out.open()))) == 2  # nothing redone
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="word lists"):
        main([str(bad), "--out", str(out)])


def test_named_variants_and_the_cli_likelihood_intruder(tmp_path):
    import csv
    import json

    from bertopic_sae.judges import LMLikelihoodJudge, llm_metric
    from bertopic_sae.judges.cli import main
    from bertopic_sae.lm import load_causal_lm

    lm = load_causal_lm(device="cpu", verbose=False)
    direct = intruder_detection(TOPICS, LMLikelihoodJudge(lm), repetitions=2, answer="likelihood")
    # an LMJudge given for C_I_lik lends its LM to a likelihood judge: the same answers
    named = llm_metric("C_I_lik", TOPICS, LMJudge(lm, verbose=False), repetitions=2)
    np.testing.assert_array_equal(named.per_topic, direct.per_topic)
    assert named.n_questions == 6 and named.n_failures == 0
    with pytest.raises(ValueError, match="C_I_lik"):
        llm_metric("C_X", TOPICS, LMJudge(lm))
    topics = tmp_path / "topics.json"
    topics.write_text(json.dumps(TOPICS))
    out = tmp_path / "scores.csv"
    assert main([str(topics), "--out", str(out), "--metrics", "C_I_lik", "--repetitions", "1", "-q"]) == 0
    (row,) = list(csv.DictReader(out.open()))
    assert row["metric"] == "C_I_lik" and row["n_questions"] == "3" and 0 <= float(row["mean"]) <= 1


def test_a_topic_subset_asks_only_those_topics_and_still_draws_intruders_from_all(tmp_path):
    import csv
    import json

    from bertopic_sae.judges import llm_metric, sample_topic_subset
    from bertopic_sae.judges.cli import main

    asked_owners = []

    def oracle(prompt: str) -> str:
        options = _options(prompt)
        owner = next(i for i, t in enumerate(TOPICS) if sum(w in t for w in options.values()) == 5)
        asked_owners.append(owner)
        return next(letter for letter, w in options.items() if w not in TOPICS[owner])

    scores = intruder_detection(TOPICS, oracle, repetitions=4, topic_subset=[2])
    assert set(asked_owners) == {2} and scores.n_questions == 4
    assert scores.per_topic[2] == 1.0 and np.isnan(scores.per_topic[:2]).all() and scores.mean == 1.0
    rated = coherence_rating(TOPICS, lambda p: "3", repetitions=2, topic_subset=[0, 2])
    assert rated.n_questions == 4 and np.isnan(rated.per_topic[1])
    with pytest.raises(ValueError, match="topic index"):
        llm_metric("C_I", TOPICS, oracle, topic_subset=[3])
    with pytest.raises(ValueError, match="at least 1"):
        sample_topic_subset(10, 0)
    assert sample_topic_subset(3, 5) is None and sample_topic_subset(3, None) is None
    picked = sample_topic_subset(200, 25, seed=1)
    assert len(set(picked)) == 25 and picked == sorted(picked)
    assert picked == sample_topic_subset(200, 25, seed=1)

    many = [[f"w{k}_{j}" for j in range(6)] for k in range(40)]
    path = tmp_path / "topics.jsonl"
    path.write_text(json.dumps({"model": "m", "num_topics": 40, "topics": many}) + "\n")
    out = tmp_path / "scores.csv"
    # the CLI asks the offline SmolLM2 about 7 of the 40 topics, once each
    args = ["--out", str(out), "--metrics", "C_R", "--repetitions", "1", "--max-topics", "7", "-q"]
    assert main([str(path), *args]) == 0
    (row,) = list(csv.DictReader(out.open()))
    assert row["n_questions"] == "7" and row["num_topics"] == "40"
    with pytest.raises(SystemExit):  # a usage error before any LM is loaded
        main([str(path), "--out", str(out), "--max-topics", "0"])
