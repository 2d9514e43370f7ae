"""Frames as the loop keeps them: a seeded sample of rows, and a digest of the content."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def sample_positions(rows: int, limit: int | None, seed: int) -> np.ndarray | None:
    """The positions sample_rows_of keeps of rows rows, in order; None for all of them."""
    if limit is None or rows <= limit:
        return None
    chosen = np.random.default_rng(seed).choice(rows, size=limit, replace=False)
    chosen.sort()
    return chosen


def sample_rows_of(frame: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """At most limit rows of frame, drawn without replacement with a fixed seed, in their order."""
    chosen = sample_positions(len(frame), limit, seed)
    if chosen is None:
        return frame
    return frame.iloc[chosen].reset_index(drop=True)


def sample_with_column(
    frame: pd.DataFrame, name: str, values: np.ndarray | None, limit: int | None, seed: int
) -> pd.DataFrame:
    """sample_rows_of(frame.assign(name=values)), without copying the whole frame first: the
    rows are drawn, then the column is added to them (replacing one of that name) in one
    concat, which also keeps pandas from warning about a fragmented frame on wide windows."""
    chosen = sample_positions(len(frame), limit, seed)
    sample = frame if chosen is None else frame.iloc[chosen].reset_index(drop=True)
    if values is None:
        return sample
    return with_columns(sample, {name: values if chosen is None else values[chosen]})


def with_columns(frame: pd.DataFrame, columns: Mapping[str, Any]) -> pd.DataFrame:
    """frame.assign(**columns) (a column of the same name replaced, at its place) in one concat:
    inserting columns one by one into a frame of many blocks makes pandas warn that it is
    highly fragmented (and copy it)."""
    if not columns:
        return frame
    replaced = [name for name in columns if name in frame.columns]
    added = {name: values for name, values in columns.items() if name not in frame.columns}
    if replaced:
        frame = frame.assign(**{name: columns[name] for name in replaced})
    if not added:
        return frame
    return pd.concat([frame, pd.DataFrame(added, index=frame.index)], axis=1)


def fingerprint_frame(frame: pd.DataFrame) -> str:
    """A stable digest of a DataFrame's content, for lineage."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:16]
