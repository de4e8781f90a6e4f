"""A model saved by bertopic-sae 0.1.0 (before the layout move) loads with identical predictions."""

import json
from pathlib import Path

import numpy as np
import pytest

from bertopic_sae import BERTopic

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "v0.1.0"


@pytest.mark.parametrize("saved", ["model_safetensors", "model.pickle"])
def test_v010_model_loads_with_identical_predictions(saved):
    expected = np.load(FIXTURE / "expected.npz")
    words = json.loads((FIXTURE / "expected.json").read_text())
    model = BERTopic.load(str(FIXTURE / saved))
    assert isinstance(model, BERTopic)
    documents = words["documents"]
    topics, probabilities = model.transform(documents, embeddings=expected["embeddings"])
    np.testing.assert_array_equal(np.asarray(topics), expected["topics"])
    # float32 sums change in the last bits with the number of BLAS threads (3e-7 with one thread)
    np.testing.assert_allclose(probabilities, expected["probabilities"], rtol=0, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(model.topics_), expected["train_topics"])
    for topic, top in words["topic_words"].items():
        assert [w for w, _ in model.get_topic(int(topic))] == top
