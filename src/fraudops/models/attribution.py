"""Fast per-feature attributions for LightGBM models, for reason codes on the hot path.

LightGBM's exact TreeSHAP (``pred_contrib``) costs O(trees x leaves x depth²) per row —
about 1-7 ms per row here, too slow for a single-request budget of a few hundred
microseconds. This module uses path attribution instead (as in treeinterpreter /
XGBoost's ``approx_contribs``): each split on a row's decision path credits its change of
expected output to its feature. Like SHAP, contributions add up to the raw score minus
the model's expected output, so their sum gives the score itself.

A leaf's path is fixed, so its attribution is too: it is computed once per leaf when the
model loads. Scoring then only needs the leaf each tree sends the row to, which LightGBM
finds in C++ (for one row through its single-row fast path, a few microseconds), and a
sum of the precomputed leaf values and leaf attributions.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from typing import Any

import numpy as np
from scipy import sparse

_PREDICT_LEAF_INDEX = 2  # C_API_PREDICT_LEAF_INDEX
_DTYPE_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
_CHUNK_ROWS = 50_000  # bounds the temporary leaf-indicator matrix of a large batch
_DENSE_LIMIT = 4_000_000  # leaf-table cells kept dense for one-row sums (32 MB)


class _SingleRowLeaves:
    """LightGBM's single-row fast prediction of leaf indices (``…SingleRowFast`` C API).

    The Python ``Booster.predict`` spends ~100 µs on argument handling for one row; the
    fast path reuses a prepared configuration and costs a few microseconds. It is a
    documented part of LightGBM's C API; if the library lacks it, ``None`` is returned
    from :meth:`create` and callers use ``Booster.predict``.
    """

    def __init__(
        self, lib: Any, handle: Any, config: ctypes.c_void_p, trees: int, n_features: int
    ) -> None:
        self._predict = lib.LGBM_BoosterPredictForMatSingleRowFast
        self._free = lib.LGBM_FastConfigFree
        self._handle = handle  # keeps the booster alive as long as the configuration
        self._config = config
        # fixed buffers and their pointers, made once: building ctypes pointers per call
        # costs more than LightGBM's prediction itself
        self._row = np.empty(n_features, dtype=np.float64)
        self._out = np.empty(trees, dtype=np.float64)
        self._out_len = ctypes.c_int64(0)
        self._args = (
            config,
            self._row.ctypes.data_as(ctypes.c_void_p),
            ctypes.byref(self._out_len),
            self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        )
        self._lock = threading.Lock()  # one configuration and its buffers, one caller

    @classmethod
    def create(cls, booster: Any, trees: int, n_features: int) -> _SingleRowLeaves | None:
        try:
            from lightgbm.basic import _LIB  # type: ignore[attr-defined]

            config = ctypes.c_void_p()
            status = _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(_PREDICT_LEAF_INDEX),
                ctypes.c_int(0),
                ctypes.c_int(trees),
                ctypes.c_int(_DTYPE_FLOAT64),
                ctypes.c_int32(n_features),
                ctypes.c_char_p(b"num_threads=1"),
                ctypes.byref(config),
            )
        except (ImportError, AttributeError):
            return None
        if status != 0:
            return None
        return cls(_LIB, booster._handle, config, trees, n_features)

    def __call__(self, row: np.ndarray) -> np.ndarray:
        with self._lock:
            self._row[:] = row
            if self._predict(*self._args) != 0:
                raise RuntimeError("LightGBM single-row prediction failed")
            return self._out.astype(np.int64)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown there is nothing to free
            self._free(self._config)


class TreePaths:
    """A LightGBM booster as per-leaf tables: output value and path attribution."""

    def __init__(self, booster: Any) -> None:
        dump = booster.dump_model()
        self.booster = booster
        self.n_features = int(dump["max_feature_idx"]) + 1
        leaf_values: list[float] = []
        # the attribution of every leaf, as sparse (leaf, feature, amount) triplets
        leaf_rows: list[int] = []
        leaf_cols: list[int] = []
        leaf_amounts: list[float] = []
        offsets: list[int] = []
        roots: list[float] = []

        for tree in dump["tree_info"]:
            offset = len(leaf_values)
            offsets.append(offset)
            root = tree["tree_structure"]
            roots.append(float(root.get("internal_value", root.get("leaf_value", 0.0))))
            leaves = _leaves(root)
            leaf_values.extend([0.0] * len(leaves))
            for leaf_index, (value, path) in leaves.items():
                leaf_values[offset + leaf_index] = value
                for feature, amount in path.items():
                    leaf_rows.append(offset + leaf_index)
                    leaf_cols.append(feature)
                    leaf_amounts.append(amount)

        self.trees = len(offsets)
        self.tree_offset = np.asarray(offsets, dtype=np.int64)
        self.leaf_value = np.asarray(leaf_values, dtype=np.float64)
        self.bias = float(np.sum(roots))
        shape = (len(leaf_values), self.n_features)
        self.leaf_attribution = sparse.csr_matrix(
            (leaf_amounts, (leaf_rows, leaf_cols)), shape=shape, dtype=np.float64
        )
        # one row's sum over ~hundreds of leaves is cheapest as a dense gather
        cells = shape[0] * shape[1]
        self._dense = self.leaf_attribution.toarray() if cells <= _DENSE_LIMIT else None
        self._single_row = _SingleRowLeaves.create(booster, self.trees, self.n_features)

    def leaves(self, x: np.ndarray, threads: int = 1) -> np.ndarray:
        """Global leaf number (row of the leaf tables) of every tree, per row of ``x``."""
        if x.shape[0] == 1 and self._single_row is not None:
            local = self._single_row(x[0]).reshape(1, -1)
        else:
            local = np.asarray(
                self.booster.predict(
                    x, pred_leaf=True, num_iteration=self.trees, num_threads=threads
                ),
                dtype=np.int64,
            ).reshape(x.shape[0], self.trees)
        return local + self.tree_offset

    def explain(self, x: np.ndarray, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Raw scores (log-odds) and per-feature contributions for each row of ``x``
        (``threads``: LightGBM threads for several rows; 0 means every core)."""
        x = np.asarray(x, dtype=np.float64)
        leaves = self.leaves(x, threads)
        raw = self.leaf_value[leaves].sum(axis=1)
        if x.shape[0] == 1 and self._dense is not None:
            return raw, self._dense[leaves[0]].sum(axis=0, keepdims=True)
        contributions = np.empty((x.shape[0], self.n_features))
        for start in range(0, x.shape[0], _CHUNK_ROWS):
            chunk = leaves[start : start + _CHUNK_ROWS]
            rows = chunk.shape[0]
            # each row picks one leaf per tree: an indicator matrix times the leaf table
            indicator = sparse.csr_matrix(
                (
                    np.ones(chunk.size),
                    chunk.ravel(),
                    np.arange(0, chunk.size + 1, self.trees),
                ),
                shape=(rows, self.leaf_value.size),
            )
            contributions[start : start + rows] = (indicator @ self.leaf_attribution).toarray()
        return raw, contributions


def _leaves(root: dict[str, Any]) -> dict[int, tuple[float, dict[int, float]]]:
    """Every leaf of a dumped tree: ``leaf_index -> (value, {feature: attribution})``."""
    out: dict[int, tuple[float, dict[int, float]]] = {}
    stack: list[tuple[dict[str, Any], dict[int, float]]] = [(root, {})]
    while stack:
        node, path = stack.pop()
        if "leaf_value" in node:
            out[int(node.get("leaf_index", 0))] = (float(node["leaf_value"]), path)
            continue
        if node.get("decision_type", "<=") != "<=":
            raise ValueError("only numerical splits are supported")
        feature = int(node["split_feature"])
        parent = float(node["internal_value"])
        for child in (node["left_child"], node["right_child"]):
            value = float(child.get("internal_value", child.get("leaf_value", 0.0)))
            step = dict(path)
            step[feature] = step.get(feature, 0.0) + value - parent
            stack.append((child, step))
    return out
