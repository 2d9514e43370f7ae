"""A version's reference profile: what drift tests need from its reference, computed once.

Per numeric column the sorted finite values, per categorical column the count of each value,
and the champion's predictions on the reference (counts of predicted labels, or sorted values
for a regressor). Stored with the version as one `.npz` (no pickles) and read back by the
monitor, which then tests every row of a window against it (`tasks/core/drift_tests.py`).

A numeric column with more than `EXACT_VALUES` finite values keeps a quantile sketch instead:
`EXACT_VALUES` evenly spaced order statistics (the smallest and largest among them) and the
true count n. Its
empirical distribution function is then within 1/m (plus 1/n) of the reference's at every
point: K-S statistics and binned shares move by at most that much (1e-6 for m = 1,000,000), the
normed Wasserstein distance by at most (max - min) / (m std).
"""

from __future__ import annotations

import contextlib
import io
import json
import mmap
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tasks.errors import DataError

PROFILE_NAME = "drift_profile.npz"
"""The attachment's name in the registry."""

EXACT_VALUES = 1_000_000
"""Most finite values a numeric column keeps exactly; above it, a sketch of this many."""

FORMAT = 1

Buffer = bytes | bytearray | memoryview | mmap.mmap
"""What a stored profile is read from: its bytes, or a memory map of its file."""


@dataclass(frozen=True)
class NumericProfile:
    """The sorted finite values of a column (or a sketch of them) and how many there were."""

    values: np.ndarray  # sorted float64
    count: int  # finite values in the reference (> len(values) for a sketch)

    @property
    def sketched(self) -> bool:
        return self.count > len(self.values)


@dataclass(frozen=True)
class CategoricalProfile:
    """Each value seen in a column (missing ones left out) with its count."""

    values: np.ndarray  # str, int64 or float64
    counts: np.ndarray  # int64

    @property
    def count(self) -> int:
        return int(self.counts.sum())


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class ReferenceProfile:
    """What drift tests need from a version's reference rows."""

    rows: int
    columns: Mapping[str, ColumnProfile]
    predictions: ColumnProfile | None = None  # the champion's on its reference rows
    target: NumericProfile | None = None  # a regressor's reference targets
    meta: Mapping[str, Any] = field(default_factory=dict)


def numeric_values(values: Any) -> np.ndarray:
    """A column's finite values as float64 (missing and infinite ones dropped, as Evidently
    does before a drift test)."""
    array = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return array[np.isfinite(array)]


def profile_numeric(values: Any, exact_values: int = EXACT_VALUES) -> NumericProfile:
    """Sorted finite values, or a sketch of exact_values order statistics above that many."""
    finite = np.sort(numeric_values(values))
    count = len(finite)
    if count > exact_values:
        ranks = np.round(np.linspace(0, count - 1, exact_values)).astype(np.int64)
        finite = finite[ranks]
    return NumericProfile(values=finite, count=count)


def category_keys(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Category values as a plain numpy array: int64 or float64 when all are numbers, else str."""
    items = list(values)
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in items):
        return np.asarray(items, dtype=np.int64)
    if all(isinstance(v, int | float | np.integer | np.floating) for v in items):
        return np.asarray(items, dtype=np.float64)
    return np.asarray([str(v) for v in items], dtype=str)


def profile_categorical(values: Any) -> CategoricalProfile:
    """Each non-missing value with its count."""
    series = pd.Series(values)
    if series.dtype.kind == "f":
        series = series.replace([-np.inf, np.inf], np.nan)
    counts = series.value_counts(dropna=True, sort=False)
    return CategoricalProfile(
        values=category_keys(counts.index.tolist()),
        counts=counts.to_numpy(dtype=np.int64),
    )


def text_counts(values: Any) -> CategoricalProfile:
    """Counts of values as text, as a drift report of predicted labels sees them
    (`astype(str)`: a missing value counts as "nan" or "None"); counted before the conversion,
    so a million predictions cost one value_counts."""
    counts = pd.Series(values).value_counts(dropna=False, sort=False)
    as_text = counts.groupby(counts.index.map(str)).sum()
    return CategoricalProfile(
        values=np.asarray(as_text.index.tolist(), dtype=str),
        counts=as_text.to_numpy(dtype=np.int64),
    )


def build_profile(
    reference: pd.DataFrame,
    numerical: Sequence[str],
    categorical: Sequence[str],
    predictions: np.ndarray | None = None,
    numeric_predictions: bool = False,
    target: str | None = None,
    exact_values: int = EXACT_VALUES,
) -> ReferenceProfile:
    """The profile of reference: its numeric and categorical feature columns, predictions (the
    champion's on these rows; numbers for a regressor) and, for a regressor, its target."""
    missing = [c for c in [*numerical, *categorical] if c not in reference.columns]
    if missing:
        raise DataError(f"the reference has no columns {missing}: check data.*_features")
    columns: dict[str, ColumnProfile] = {}
    for column in numerical:
        columns[column] = profile_numeric(reference[column], exact_values)
    for column in categorical:
        columns[column] = profile_categorical(reference[column])
    predicted: ColumnProfile | None = None
    if predictions is not None:
        predicted = (
            profile_numeric(predictions, exact_values)
            if numeric_predictions
            else text_counts(predictions)
        )
    target_profile = None
    if target is not None and target in reference.columns:
        target_profile = profile_numeric(reference[target], exact_values)
    return ReferenceProfile(
        rows=len(reference),
        columns=columns,
        predictions=predicted,
        target=target_profile,
        meta={"exact_values": exact_values},
    )


def _put(
    arrays: dict[str, np.ndarray], entries: list[dict[str, Any]], name: str, profile: ColumnProfile
) -> None:
    key = f"a{len(entries)}"
    if isinstance(profile, NumericProfile):
        arrays[f"{key}_values"] = profile.values
        entries.append({"name": name, "key": key, "kind": "numeric", "count": profile.count})
    else:
        arrays[f"{key}_values"] = profile.values
        arrays[f"{key}_counts"] = profile.counts
        entries.append({"name": name, "key": key, "kind": "categorical"})


def profile_to_bytes(profile: ReferenceProfile) -> bytes:
    """The profile as one uncompressed .npz (sorted floats barely compress); no pickles."""
    arrays: dict[str, np.ndarray] = {}
    entries: list[dict[str, Any]] = []
    for name, column in profile.columns.items():
        _put(arrays, entries, name, column)
    extras: dict[str, str] = {}
    for role, extra in (("predictions", profile.predictions), ("target", profile.target)):
        if extra is not None:
            extras[role] = f"a{len(entries)}"
            _put(arrays, entries, "", extra)
    header = {
        "format": FORMAT,
        "rows": profile.rows,
        "columns": entries,
        "extras": extras,
        "meta": dict(profile.meta),
    }
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


class _BufferFile(io.RawIOBase):
    """A read-only file over a buffer (bytes, a memory map), without copying it."""

    def __init__(self, buffer: Buffer) -> None:
        self._view = memoryview(buffer).cast("B")
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}
        self._position = max(base[whence] + offset, 0)
        return self._position

    def readinto(self, target: Any) -> int:
        end = min(self._position + len(target), len(self._view))
        size = max(end - self._position, 0)
        target[:size] = self._view[self._position : end]
        self._position += size
        return size


def _stored_arrays(buffer: Buffer) -> dict[str, np.ndarray] | None:
    """The arrays of an uncompressed .npz in buffer as read-only views of it (no copy), by
    name without ".npy"; None when a member is compressed or not a plain array (np.load reads
    it then)."""
    handle = _BufferFile(buffer)
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(handle) as archive:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                return None
            handle.seek(info.header_offset)
            local = handle.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                return None
            start = info.header_offset + 30 + int.from_bytes(local[26:28], "little")
            start += int.from_bytes(local[28:30], "little")
            handle.seek(start)
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                return None
            count = int(np.prod(shape, dtype=np.int64))
            offset = handle.tell()
            if (
                dtype.hasobject
                or fortran
                or offset + count * dtype.itemsize > start + (info.compress_size)
            ):
                return None
            array = np.frombuffer(buffer, dtype=dtype, count=count, offset=offset)
            arrays[info.filename[: -len(".npy")]] = array.reshape(shape)
    return arrays


def profile_from_bytes(data: Buffer) -> ReferenceProfile:
    """Read a profile written by profile_to_bytes (bytes, or a memory map of the stored file);
    DataError when it is not one. Its arrays are read-only views of data, not copies: reading
    a 1M-row profile copied 160 MB (a 100,000 x 1,000 one, 720 MB) before."""
    try:
        viewed = _stored_arrays(data)
        with (
            contextlib.nullcontext(viewed)
            if viewed is not None
            else np.load(_BufferFile(data), allow_pickle=False)
        ) as stored:
            header = json.loads(stored["header"].tobytes().decode("utf-8"))
            if header.get("format") != FORMAT:
                raise DataError(
                    f"the drift profile has format {header.get('format')}, this code reads "
                    f"{FORMAT}: register the version again, or delete its {PROFILE_NAME} to "
                    "test drift against its stored reference"
                )
            by_key: dict[str, ColumnProfile] = {}
            columns: dict[str, ColumnProfile] = {}
            for entry in header["columns"]:
                key = entry["key"]
                column: ColumnProfile
                if entry["kind"] == "numeric":
                    column = NumericProfile(stored[f"{key}_values"], int(entry["count"]))
                else:
                    column = CategoricalProfile(stored[f"{key}_values"], stored[f"{key}_counts"])
                by_key[key] = column
            roles = set(header.get("extras", {}).values())
            for entry in header["columns"]:
                if entry["key"] not in roles:
                    columns[entry["name"]] = by_key[entry["key"]]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(
            f"the stored drift profile cannot be read ({error}): register the version again"
        ) from error
    extras = header.get("extras", {})
    target = by_key.get(extras["target"]) if "target" in extras else None
    return ReferenceProfile(
        rows=int(header["rows"]),
        columns=columns,
        predictions=by_key.get(extras["predictions"]) if "predictions" in extras else None,
        target=target if isinstance(target, NumericProfile) else None,
        meta=header.get("meta", {}),
    )
