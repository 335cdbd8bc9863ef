"""grilly.memory: key-value and episodic memory, associative recall, vector search, place/grid/time cells, and the
capsule transformer.

>>> import numpy as np, grilly.memory as gm
>>> index = gm.IndexFlatL2(4)
>>> index.add(np.eye(4, dtype=np.float32))
>>> D, I = index.search(np.eye(4, dtype=np.float32)[:1], k=2)
>>> I.tolist()
[[0, 1]]
"""

from grilly.memory.cells import (
    GridCells,
    PlaceCells,
    TimeCells,
    grid_cells,
    grid_wave_vectors,
    place_cell_centers,
    place_cells,
    time_cell_centers,
    time_cells,
)
from grilly.memory.distances import (
    grouped_top_k,
    knn,
    l2_normalize,
    pairwise_cosine,
    pairwise_distances,
    pairwise_inner_product,
    pairwise_l2,
    pairwise_sq_l2,
    smallest_k,
)
from grilly.memory.episodic import EpisodicMemory, encode_episode
from grilly.memory.hopfield import associative_recall, hopfield_energy, hopfield_update
from grilly.memory.index import IndexFlat, IndexFlatIP, IndexFlatL2
from grilly.memory.kv import KeyValueMemory, aggregate_context, attention_scores, kv_read, kv_write, softmax

__all__ = [
    "EpisodicMemory", "GridCells", "IndexFlat", "IndexFlatIP", "IndexFlatL2", "KeyValueMemory", "PlaceCells",
    "TimeCells", "aggregate_context", "associative_recall", "attention_scores", "encode_episode", "grid_cells",
    "grid_wave_vectors", "grouped_top_k", "hopfield_energy", "hopfield_update", "knn", "kv_read", "kv_write",
    "l2_normalize", "pairwise_cosine", "pairwise_distances", "pairwise_inner_product", "pairwise_l2",
    "pairwise_sq_l2", "place_cell_centers", "place_cells", "smallest_k", "softmax", "time_cell_centers",
    "time_cells",
]
