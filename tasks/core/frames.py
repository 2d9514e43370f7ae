"""Frames as the loop keeps them: a seeded sample of rows, and a digest of the content."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def sample_rows_of(frame: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """At most limit rows of frame, drawn without replacement with a fixed seed, in their order."""
    if limit is None or len(frame) <= limit:
        return frame
    chosen = np.random.default_rng(seed).choice(len(frame), size=limit, replace=False)
    chosen.sort()
    return frame.iloc[chosen].reset_index(drop=True)


def fingerprint_frame(frame: pd.DataFrame) -> str:
    """A stable digest of a DataFrame's content, for lineage."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:16]
