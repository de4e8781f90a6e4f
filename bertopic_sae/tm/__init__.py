"""SAE-TM (Girrbach & Akata), the topic model on SAE atoms, one stage per module.

* ``vocabulary.py``: the one bag-of-words recipe (the paper's 5,000-word vocabulary) and IDF weights;
* ``emission.py``: stage 2, the word-emission model fitted by EM (``_kernels.py``: its numba kernels);
* ``topic_words.py``: topic words read from the fitted emission model;
* ``merge.py``: stage 3, atoms merged into topics;
* ``assignment.py``: documents assigned to topics.

Nothing here imports BERTopic; the BERTopic glue is in :mod:`bertopic_sae.components`.
"""
