"""OCTIS adapters, benchmark corpora and metrics for comparing topic models on equal terms.

Everything here speaks OCTIS: a model is an ``octis.models.model.AbstractModel`` whose
``train_model(dataset, hyperparameters=None, top_words=10)`` returns the OCTIS output dict
(``topics``, ``topic-word-matrix`` K x V over ``dataset.get_vocabulary()``, ``topic-document-matrix``
K x n_train, plus ``test-topic-document-matrix`` when ``use_partitions=True``), a corpus is an
``octis.dataset.dataset.Dataset``, and every score is computed by OCTIS, gensim or scikit-learn.

Models:

* :class:`SAETopicModel`: the SAE topic model (``bertopic_sae.BERTopic`` + ``SAEAtomMerger``).
* :class:`BERTopicModel`: default BERTopic (UMAP + HDBSCAN), reduced to K non-outlier topics.
* :class:`KMeansBERTopicModel`: BERTopic with no reduction and ``KMeans(K)`` on the raw embeddings.
* :class:`FASTopicModel`: the real ``fastopic`` package, run offline on the same embeddings and vocabulary.
* :class:`CTMModel`, :class:`ProdLDAModel`, :class:`LDAModel`: OCTIS's own CTM (combined), ProdLDA (AVITM)
  and gensim LDA, only wrapped to take a seed, precomputed embeddings and a quiet mode.

Every embedding-based model gets the same precomputed document embeddings of the *raw* text (aligned to
the dataset rows), and every c-TF-IDF model counts the dataset's own tokens (space-joined token lists), so
all models see one vocabulary and one tokenisation.

OCTIS 1.14 cannot be installed with its declared pins on a modern stack; install it with
``pip install --no-deps octis==1.14.0``. This module applies the numpy-2 shim (``np.Inf``) before importing
it.
Importing ``bertopic_sae`` never imports this module.

Usage:

```python
from bertopic_sae.eval import load_octis_corpus, KMeansBERTopicModel, OctisEvaluator
corpus = load_octis_corpus("bbc_news")            # Dataset + aligned raw text + labels
model = KMeansBERTopicModel(num_topics=20, embeddings=corpus.embeddings(), seed=0)
output = model.train_model(corpus.dataset)
scores = OctisEvaluator(corpus.dataset).score(output)   # npmi, c_v, td, irbo, we_coherence, ...
```
"""

from __future__ import annotations

from ._base import seed_everything
from .bertopic_default import BERTopicModel
from .corpora import OCTIS_CORPORA, OctisCorpus, load_octis_corpus, shared_vocabulary_corpus
from .ctm import CTMModel
from .fastopic import FASTopicModel
from .kmeans_bertopic import KMeansBERTopicModel
from .lda import LDAModel
from .metrics import OctisEvaluator, glove_word2vec_path, hard_assignments, word_intrusion
from .ours import SAETopicModel
from .prodlda import ProdLDAModel

__all__ = [
    "OCTIS_CORPORA",
    "BERTopicModel",
    "CTMModel",
    "FASTopicModel",
    "KMeansBERTopicModel",
    "LDAModel",
    "OctisCorpus",
    "OctisEvaluator",
    "ProdLDAModel",
    "SAETopicModel",
    "glove_word2vec_path",
    "hard_assignments",
    "load_octis_corpus",
    "seed_everything",
    "shared_vocabulary_corpus",
    "word_intrusion",
]
