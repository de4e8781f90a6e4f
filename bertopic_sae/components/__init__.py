"""The BERTopic glue only, one BERTopic slot per module.

* ``encoder.py``: :class:`SAEEncoder` (``umap_model``);
* ``merger.py``: :class:`SAEAtomMerger` (``hdbscan_model``);
* ``representation.py``: :class:`EmissionTopicWords` (``ctfidf_model``);
* ``bertopic.py``: :class:`BERTopic`, which composes the stages and saves/loads them;
* ``_bertopic_private.py``: every private BERTopic method this package overrides or calls, with the reason.
"""
