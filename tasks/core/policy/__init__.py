"""The retraining trigger: a pure function of the signals, the recent history and the policy.

Guards, in the order they are applied:
1. minimum samples: a signal from too few rows is "not judged", never a breach;
2. breaches: data drift (only when configured to retrain; with `when-harmful`, the default,
   only when the champion's metric dropped more than harm_drop of its holdout score (or the
   absolute harm_margin) from it, or breaches: the realised metric judges from
   min_labelled_rows labelled rows on, the label-free
   estimate while fewer labels have arrived), prediction drift (only when configured to
   retrain), performance (worse than performance_threshold, or, with performance_drop, worse
   than the champion's own holdout score by more than that share of it), estimated
   performance (the label-free estimate; judged only while some rows of the window await
   their labels: once every row is labelled the realised metric decides);
3. confirmation: a breach counts when seen in M of the last N windows of the same champion
   (this run included; a champion restored by a rollback reads its own windows before it was
   replaced too), separately per signal; for performance an earlier window past the
   drop bar's warning level counts too (drop_reference.warning); a severe performance breach
   skips it;
4. cooldown: no retrain within `cooldown` of the last retrain or promotion, unless severe;
   never a second retrain of the same window (a rerun of a window that already retrained).
Runs are counted by window: an earlier run of this run's window (a retried job, a rerun by
hand) and a second record of one window are no evidence (distinct_windows).
No champion is not decided here: the monitor bootstraps one before measuring anything.

The private modules hold the parts:

    _records.py  PastRun, Breaches, TriggerDecision: what the policy reads and returns
    _signals.py  find_breaches: each signal judged (drift and its harm, performance, estimate)
    _confirm.py  the windows that confirm a breach, the warning level, the cooldown
    _decide.py   decide_retrain: the guards in their order, and the decision record
"""

from tasks.core.policy._confirm import WarningLevel, champion_evidence, distinct_windows
from tasks.core.policy._decide import decide_retrain
from tasks.core.policy._records import (
    SIGNAL_NAMES,
    Action,
    Breaches,
    PastRun,
    SignalName,
    TriggerDecision,
)
from tasks.core.policy._signals import (
    find_breaches,
    harm_margin,
    judge_harm,
    performance_drop_limit,
)

__all__ = [
    "SIGNAL_NAMES",
    "Action",
    "Breaches",
    "PastRun",
    "SignalName",
    "TriggerDecision",
    "WarningLevel",
    "champion_evidence",
    "decide_retrain",
    "distinct_windows",
    "find_breaches",
    "harm_margin",
    "judge_harm",
    "performance_drop_limit",
]
