"""Results of simulated trials: operating characteristics, threshold calibration, run directories.

The tidy trials table of :func:`alsim.trial.run_trials` (one row per replicate and comparison,
see :mod:`alsim.results.table`) is the only input:

* :func:`performance` -> ``comparison, metric, est, mcse`` with Monte Carlo SEs (Morris, White &
  Crowther, Stat Med 2019, doi:10.1002/sim.8086);
* :func:`calibrate_threshold` -> the success threshold that gives a target type I error;
* :func:`write_run` / :func:`read_run` / :func:`combine_runs` -> run directories.

This package imports no plotting library. Research and education only, not medical advice.
"""

from alsim.results.calibrate import ThresholdCalibration, calibrate_threshold, rejection_rate
from alsim.results.performance import TRIAL_LEVEL, performance, wide_performance
from alsim.results.store import TrialRun, combine_runs, read_run, write_run
from alsim.results.table import TRIAL_COLUMNS, check_trials

__all__ = [
    "TRIAL_COLUMNS",
    "TRIAL_LEVEL",
    "ThresholdCalibration",
    "TrialRun",
    "calibrate_threshold",
    "check_trials",
    "combine_runs",
    "performance",
    "read_run",
    "rejection_rate",
    "wide_performance",
    "write_run",
]
