"""LLM and embedding judges for topic models: the pairwise topic judge, SAE-TM's C_I / C_R, steering scores.

* judges (``base.py``): :class:`LMJudge` (log-prob answers of a causal LM, SmolLM2 offline, optionally
  contextually calibrated), :class:`LMLikelihoodJudge` (``likelihood.py``: PMI of a rendering with the
  document, no question and no A/B position),
  :class:`TextJudge` / :class:`OpenAIJudge` (any callable, OpenAI-compatible client), :class:`EmbeddingJudge`;
* the topic judge (``pairwise.py``): :class:`ModelTopics` adapts a model, :func:`compare_models` judges;
* ratings (``ratings.py``): Bradley-Terry Elo with bootstrap bounds, judge agreement, position bias;
* SAE-TM's LLM metrics (``llm_metrics.py``): :func:`intruder_detection` (C_I), :func:`coherence_rating` (C_R);
* topic directions (``directions.py``) and the steering evaluation (``steering_eval.py``).

Usage:

```python
from bertopic_sae.judges import LMJudge, EmbeddingJudge, ModelTopics, compare_models, bradley_terry_elo
comparisons = compare_models([ModelTopics.from_octis("lda", out_lda), ModelTopics.from_octis("sae", out_sae)],
                             texts, LMJudge(), n_docs=40, both_orders=True)
print(bradley_terry_elo(comparisons))
```
"""

from .base import (
    CONTENT_FREE,
    EmbeddingJudge,
    Judge,
    JudgeFailure,
    LMJudge,
    OpenAIJudge,
    TextJudge,
    as_judge,
    choose_many,
    content_free_offsets,
)
from .directions import (
    DirectionSource,
    MeanDifferenceDirections,
    RetrievalShift,
    retrieval_shift,
    sae_topic_direction,
    shift_embedding,
)
from .likelihood import LMLikelihoodJudge, sequence_log_probs
from .llm_metrics import (
    METRIC_VARIANTS,
    TopicScores,
    coherence_rating,
    intruder_detection,
    llm_metric,
    sample_topic_subset,
)
from .pairwise import (
    SIMPLE_TOPIC_JUDGE_PROMPT,
    TOPIC_JUDGE_PROMPT,
    Comparison,
    ModelTopics,
    compare_models,
    content_free_bias,
)
from .ratings import (
    Agreement,
    EloTable,
    PositionBias,
    bradley_terry_elo,
    calibrate,
    combine_orders,
    judge_agreement,
    one_order,
    position_bias,
)
from .steering_eval import SteeringRow, steering_sweep, summarize

__all__ = [
    "Judge",
    "JudgeFailure",
    "LMJudge",
    "TextJudge",
    "OpenAIJudge",
    "EmbeddingJudge",
    "LMLikelihoodJudge",
    "as_judge",
    "choose_many",
    "content_free_offsets",
    "content_free_bias",
    "sequence_log_probs",
    "CONTENT_FREE",
    "TOPIC_JUDGE_PROMPT",
    "SIMPLE_TOPIC_JUDGE_PROMPT",
    "ModelTopics",
    "Comparison",
    "compare_models",
    "EloTable",
    "Agreement",
    "PositionBias",
    "bradley_terry_elo",
    "combine_orders",
    "calibrate",
    "one_order",
    "judge_agreement",
    "position_bias",
    "TopicScores",
    "intruder_detection",
    "coherence_rating",
    "llm_metric",
    "sample_topic_subset",
    "METRIC_VARIANTS",
    "DirectionSource",
    "MeanDifferenceDirections",
    "sae_topic_direction",
    "shift_embedding",
    "retrieval_shift",
    "RetrievalShift",
    "SteeringRow",
    "steering_sweep",
    "summarize",
]
