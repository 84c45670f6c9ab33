"""In-silico ALS trials: scenarios (specify), run_trials (run) -> the tidy trials table (extract).

Workflow (adaptr-like: specify -> calibrate -> run -> extract -> summarise)::

    from alsim.trial import load_scenario, run_trials
    scenario = load_scenario("examples/scenarios/healey/slowing30.yaml")
    trials = run_trials(scenario, n_rep=1000, seed=1)     # one row per trial and comparison

Designs: parallel two-arm, multi-arm with a shared control, platform (regimens entering over
time, shared placebo, interim looks), randomised delayed start; enrichment by eligibility
criteria; empirical (default) or mechanistic data generation. See ``docs/trial-engine.md``.
Research and education only, not medical advice.
"""

from alsim.trial.engine import COLUMNS
from alsim.trial.run import run_trials
from alsim.trial.scenario import Scenario, load_scenario, validate_scenario

__all__ = ["COLUMNS", "Scenario", "load_scenario", "run_trials", "validate_scenario"]
