"""Metrics of judged samples: pass@k, n@k, APPS accuracies, outcome shares, compile rate, CodeBLEU,
and computational accuracy of translations."""

from execrl.metrics.passk import mean_pass_at_k, n_at_k, pass_at_k
from execrl.metrics.summary import (
    Judged,
    apps_accuracy,
    compile_rate,
    group,
    outcome_distribution,
    synthesis_metrics,
)
from execrl.metrics.translation import codebleu, exact_match

__all__ = [
    "Judged",
    "apps_accuracy",
    "codebleu",
    "compile_rate",
    "exact_match",
    "group",
    "mean_pass_at_k",
    "n_at_k",
    "outcome_distribution",
    "pass_at_k",
    "synthesis_metrics",
]
