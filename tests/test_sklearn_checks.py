"""scikit-learn's own estimator checks (``parametrize_with_checks``) on the sklearn-shaped classes.

``EXPECTED_FAILURES`` lists the checks each class fails by design, with the reason; every other check
must pass. (``EmissionTopicWords`` is BERTopic's ``ClassTfidfTransformer`` interface, fitted on a
topic-by-word matrix together with an emission model, and ``EmissionModel.fit`` takes two matrices,
so neither is a plain sklearn estimator the checks can drive.)
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from bertopic_sae import SAEAtomMerger, SAEEncoder, TrainConfig

# The checks fit sae="auto" on random 2-5-d data, where no SAE ships: that warning is noise here.
pytestmark = pytest.mark.filterwarnings("ignore:No shipped SAE for the embedding model:UserWarning")

# A few optimisation steps: the checks fit dozens of times on tiny random data.
_FAST = TrainConfig(steps=20, batch_size=32, verbose=False)

EXPECTED_FAILURES = {
    "SAEAtomMerger": {
        # An SAE over 1-dimensional input has at most two active directions, fewer than the topics the
        # check asks for; the merger refuses with its own message ("Only 2 SAE atoms fire ...").
        "check_fit2d_1feature": "an SAE over one input dimension has fewer atoms than topics",
    },
}


@parametrize_with_checks(
    [SAEEncoder(train_config=_FAST), SAEAtomMerger(n_topics=3, train_config=_FAST)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILURES.get(type(estimator).__name__, {}),
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
