"""Plots of SAE topic models beyond BERTopic's own, as plotly figures in BERTopic's look.

* :func:`visualize_atoms`: the SAE atoms that make a topic, their weights and top words;
* :func:`visualize_topic_tree`: how topics split as K grows (a Sankey of the atom partitions at
  several K, flows weighted by documents), without refitting the SAE;
* :func:`visualize_corpus_comparison`: which topics each corpus over- or under-represents, with
  confidence intervals.

Each has a function that returns the numbers it draws (:func:`topic_atom_table`, :func:`topic_tree`,
:func:`corpus_composition`).

Usage:

```python
from bertopic_sae.plotting import visualize_atoms, visualize_topic_tree
visualize_atoms(topic_model, 0)
visualize_topic_tree(topic_model, ks=(10, 20, 50), embeddings=embeddings)
```
"""

from ._atoms import topic_atom_table, visualize_atoms
from ._composition import corpus_composition, visualize_corpus_comparison
from ._tree import TopicTree, topic_tree, visualize_topic_tree

__all__ = [
    "topic_atom_table",
    "visualize_atoms",
    "TopicTree",
    "topic_tree",
    "visualize_topic_tree",
    "corpus_composition",
    "visualize_corpus_comparison",
]
