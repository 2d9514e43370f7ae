"""Is the window's data broken? Checks of a window against the numbers of the champion's reference.

A `QualityProfile` holds what the checks need of the reference (kept with a version as
`quality.json`); `check_quality` compares a window with it under `QualityRules` and returns a
`QualityReport` of one `QualityFinding` per check and column. Pure: no I/O, no Prefect.

The checks (each default tolerance is in `DEFAULT_TOLERANCES` of tasks/config/_quality.py, the
one place the defaults live):

- `missing`: the column's share of missing values may exceed the reference's by the tolerance;
- `range` (numeric): values beyond the reference's min and max by more than the tolerance times
  the reference's scale (the larger of its span, max - min, and its largest absolute value: a
  unit change multiplies, and a narrow reference span is no bar for a moving quantity) fail;
- `categories` (categorical): the share of values the reference never had may exceed the
  reference's own share outside its kept categories by the tolerance;
- `constant`: a column with one value on the whole window fails when that value had a share
  below the tolerance in the reference (a feed stuck on a value, not a dry month of rain), and
  the window holds more values than CONSTANT_RUN_FACTOR times the longest run of one value in
  the reference (a value carried forward for weeks, as a poll is, is how that column moves);
- `dtype`: the column's type family (numeric, boolean, text, datetime) must be the reference's
  (the tolerance is 0; null switches it off like any check);
- `duplicates` (the window): the share of duplicated rows may exceed the reference's by the
  tolerance;
- `row_count` (the window): its rows may differ from the median of the recent windows by the
  factor 1 + tolerance either way (a feed that stopped or doubled).

The private modules hold the parts:

    _profile.py  ColumnProfile, QualityProfile and profile_reference: the reference's numbers
    _rules.py    QualityRules and quality_rules: the tolerances, from the config
    _report.py   QualityFinding, QualityReport and quality_reason: what the checks found
    _checks.py   check_quality: each check of a window against the profile
"""

from tasks.config import CHECKS, COLUMN_CHECKS, DEFAULT_TOLERANCES, WINDOW_CHECKS, CheckName
from tasks.core.quality._checks import check_quality
from tasks.core.quality._profile import (
    MAX_CATEGORIES,
    ColumnProfile,
    QualityProfile,
    profile_reference,
)
from tasks.core.quality._report import QualityFinding, QualityReport, quality_reason
from tasks.core.quality._rules import QualityRules, quality_rules

__all__ = [
    "CHECKS",
    "COLUMN_CHECKS",
    "DEFAULT_TOLERANCES",
    "MAX_CATEGORIES",
    "WINDOW_CHECKS",
    "CheckName",
    "ColumnProfile",
    "QualityFinding",
    "QualityProfile",
    "QualityReport",
    "QualityRules",
    "check_quality",
    "profile_reference",
    "quality_reason",
    "quality_rules",
]
