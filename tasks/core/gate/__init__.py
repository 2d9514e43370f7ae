"""The promotion gate: a pure decision over both models' predictions on the same holdout rows.

No Prefect and no I/O here: the promote task collects the per-row predictions, this package
measures (tasks/core/statistics.py, tasks/core/regression.py) and decides, and the result is a
Comparison that records every number behind the verdict. The private modules hold the parts:

    _rules.py     GateRules, GuardRules, SliceRules: what a challenger must show, from the config
    _records.py   ModelOutputs (the input per model), Contender, GuardCheck, SliceCheck,
                  Approval, Comparison and its dict form
    _guards.py    the non-inferiority guards
    _slices.py    the per-slice comparisons, Holm over them
    _decision.py  compare_models: scores, the paired evidence, the reasons and the verdict
"""

from tasks.core.gate._decision import compare_models
from tasks.core.gate._guards import check_guards
from tasks.core.gate._records import (
    Approval,
    Comparison,
    Contender,
    GuardCheck,
    ModelOutputs,
    SliceCheck,
    Verdict,
)
from tasks.core.gate._rules import GateRules, GuardRules, SliceRules, improvement_shown
from tasks.core.gate._slices import check_slices, slice_margin

__all__ = [
    "Approval",
    "Comparison",
    "Contender",
    "GateRules",
    "GuardCheck",
    "GuardRules",
    "ModelOutputs",
    "SliceCheck",
    "SliceRules",
    "Verdict",
    "check_guards",
    "check_slices",
    "compare_models",
    "improvement_shown",
    "slice_margin",
]
