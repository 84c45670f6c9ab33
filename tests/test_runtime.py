"""alsim.runtime: execution strategies, resumable chunked runs, --resume and --grow."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from alsim.errors import InputError
from alsim.runtime import ExecutionConfig, run_strategy
from alsim.runtime.resume import prepare_run
from alsim.runtime.strategies import execute
from alsim.trial import run_trials, validate_scenario
from clitools import one_error_line, run

SMALL = """\
alsim: 1
name: runtime-small
description: two regimens sharing placebo (runtime tests)
design: platform
accrual: {rate_per_month: 60}
regimens:
  - {name: null_regimen, n: 40, product: {drr: 1.0}}
  - {name: active_regimen, n: 40, product: {drr: 0.6}}
interim: {first_n: 30, every_weeks: 12}
analysis: {primary: healey_drr, healey_n_grid: 200}
run: {n_rep: 12, seed: 5}
"""


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def trials(out):
    return pd.read_parquet(out / "trials.parquet")


# -- strategies ---------------------------------------------------------------------------------
def test_strategies_identical_in_process_and_pool():
    scenario = validate_scenario(yaml.safe_load(SMALL))
    reference = run_trials(scenario, 11, 7, chunk_size=4)
    for config in (
        ExecutionConfig("serial"),
        ExecutionConfig("vectorized"),
        ExecutionConfig("process", workers=1),
        ExecutionConfig("process", workers=2),
    ):
        for chunk_size in (3, 11):
            table = run_strategy(scenario, 11, 7, config=config, chunk_size=chunk_size)
            pd.testing.assert_frame_equal(reference, table)


def test_bad_execution_config():
    with pytest.raises(InputError, match="--strategy: must be one of"):
        ExecutionConfig("threads")
    with pytest.raises(InputError, match="--workers"):
        ExecutionConfig("process", workers=0)
    with pytest.raises(InputError, match="--scheduler: only applies to --strategy dask"):
        ExecutionConfig("process", scheduler="tcp://localhost:8786")
    with pytest.raises(InputError, match="--scheduler: must be an address"):
        ExecutionConfig("dask", scheduler="localhost")


def test_cli_strategies_identical_including_dask_local_cluster(tmp_path, capsys, scenario_file):
    """The same seed gives the same table on every strategy, with 1 or 2 workers; the Dask
    strategy starts a LocalCluster with 2 worker processes."""
    base = tmp_path / "vectorized"
    code, _, err = run(capsys, "run", scenario_file, "--out", base, "--chunk-size", "5")
    assert code == 0, err
    expected = trials(base)
    for name, flags in (
        ("serial", ["--strategy", "serial"]),
        ("process2", ["--strategy", "process", "--workers", "2"]),
        ("dask2", ["--strategy", "dask", "--workers", "2", "--chunk-size", "3"]),
    ):
        out = tmp_path / name
        code, _, err = run(capsys, "run", scenario_file, "--out", out, *flags)
        assert code == 0, err
        pd.testing.assert_frame_equal(expected, trials(out))
        assert (out / "performance.csv").read_bytes() == (base / "performance.csv").read_bytes()
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["execution"]["strategy"] == flags[1]
        assert not (out / "chunks").exists()


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--strategy", "threads"], "--strategy: must be one of serial, vectorized"),
        (["--workers", "0"], "--workers: must be a positive integer"),
        (["--scheduler", "tcp://x:1"], "--scheduler: only applies to --strategy dask"),
        (["--resume", "--grow", "3"], "--resume/--grow: give one of them"),
        (["--grow", "3"], "--grow:"),
        (["--resume"], "--resume:"),
    ],
)
def test_run_bad_runtime_flags_write_nothing(tmp_path, capsys, scenario_file, flags, fragment):
    out = tmp_path / "out"
    one_error_line(*run(capsys, "run", scenario_file, "--out", out, *flags), fragment)
    assert not out.exists()


def test_dask_local_cluster_has_worker_processes():
    from alsim.runtime.strategies import local_cluster

    scenario = validate_scenario(yaml.safe_load(SMALL))
    with local_cluster(2) as cluster:
        from distributed import Client

        with Client(cluster) as client:
            pids = set(client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids  # real worker processes
        config = ExecutionConfig("dask", scheduler=cluster.scheduler_address)
        table = run_strategy(scenario, 9, 2, config=config, chunk_size=2)
    pd.testing.assert_frame_equal(run_trials(scenario, 9, 2), table)


# -- resume -------------------------------------------------------------------------------------
def test_killed_run_resumes_to_the_uninterrupted_table(tmp_path, capsys, scenario_file):
    full = tmp_path / "full"
    code, _, err = run(capsys, "run", scenario_file, "--out", full, "--chunk-size", "2")
    assert code == 0, err

    out = tmp_path / "killed"
    env = {**os.environ, "ALSIM_TEST_CHUNK_DELAY": "0.4", "COLUMNS": "100"}
    argv = [sys.executable, "-m", "alsim.cli.main", "run", str(scenario_file), "--out", str(out)]
    proc = subprocess.Popen(
        [*argv, "--chunk-size", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(list((out / "chunks").glob("chunk-*.parquet"))) >= 2:
                break
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    on_disk = {p.name: p.read_bytes() for p in (out / "chunks").glob("chunk-*.parquet")}
    assert 2 <= len(on_disk) < 6
    assert not (out / "manifest.json").exists()  # not a complete run
    # a plain run refuses the unfinished directory and names --resume
    one_error_line(*run(capsys, "run", scenario_file, "--out", out), "use --resume")

    scenario = validate_scenario(yaml.safe_load(SMALL))
    data = scenario.model_dump(mode="json")
    pending = prepare_run(
        out, scenario, data, n_rep=None, seed=None, chunk_size=None,
        default_n_rep=1, default_seed=1, resume=True,
    )  # fmt: skip
    assert pending.done == {int(name[6:-8]) for name in on_disk}  # every finished chunk is kept
    assert len(pending.missing()) == 6 - len(on_disk)

    code, _, err = run(capsys, "run", scenario_file, "--out", out, "--resume")
    assert code == 0, err
    pd.testing.assert_frame_equal(trials(full), trials(out))
    assert (out / "performance.csv").read_bytes() == (full / "performance.csv").read_bytes()
    assert not (out / "chunks").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_rep"] == 12 and manifest["chunk_size"] == 2
    assert manifest["execution"]["mode"] == "resume"
    code, stdout, err = run(capsys, "run", scenario_file, "--out", out, "--resume")
    assert code == 0 and "already complete" in stdout, err


def test_grow_equals_the_larger_run_from_the_start(tmp_path, capsys, scenario_file):
    full = tmp_path / "full"
    code, _, err = run(
        capsys, "run", scenario_file, "--out", full, "--n-rep", "12", "--chunk-size", "3"
    )
    assert code == 0, err
    out = tmp_path / "grown"
    code, _, err = run(
        capsys, "run", scenario_file, "--out", out, "--n-rep", "7", "--chunk-size", "3"
    )
    assert code == 0, err
    code, _, err = run(
        capsys, "run", scenario_file, "--out", out, "--grow", "5", "--strategy", "process",
        "--workers", "2",
    )  # fmt: skip
    assert code == 0, err
    pd.testing.assert_frame_equal(trials(full), trials(out))
    assert (out / "performance.csv").read_bytes() == (full / "performance.csv").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_rep"] == 12 and manifest["execution"]["mode"] == "grow"
    code, _, err = run(capsys, "report", out)
    assert code == 0, err


def unfinished(tmp_path):
    """A run directory of 6 replicates in chunks of 2 whose last chunk is missing (as if killed)."""
    out = tmp_path / "partial"
    scenario = validate_scenario(yaml.safe_load(SMALL))
    data = scenario.model_dump(mode="json")
    pending = prepare_run(
        out, scenario, data, n_rep=6, seed=5, chunk_size=2, default_n_rep=1, default_seed=1
    )
    for chunk, table in execute(scenario, 5, pending.missing()[:2]):
        pending.write_chunk(chunk, table)
    assert not (out / "manifest.json").exists()
    return out


def test_refuses_to_mix_results(tmp_path, capsys, scenario_file):
    out = unfinished(tmp_path)
    other = tmp_path / "other.yaml"
    other.write_text(SMALL.replace("drr: 0.6", "drr: 0.7"))
    one_error_line(
        *run(capsys, "run", other, "--out", out, "--resume"),
        "--resume: " + str(out) + " was run from a different scenario",
    )
    one_error_line(
        *run(capsys, "run", scenario_file, "--out", out, "--resume", "--seed", "6"),
        "--seed: " + str(out) + " was run with seed 5, not 6",
    )
    one_error_line(
        *run(capsys, "run", scenario_file, "--out", out, "--resume", "--chunk-size", "4"),
        "--chunk-size: " + str(out) + " was run with chunk size 2, not 4",
    )
    one_error_line(
        *run(capsys, "run", scenario_file, "--out", out, "--resume", "--n-rep", "9"),
        "--n-rep:",
    )
    one_error_line(
        *run(capsys, "run", scenario_file, "--out", out, "--grow", "3"), "--resume it first"
    )
    manifest_path = out / "chunks" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "alsim_version": "0.0.1"}))
    one_error_line(
        *run(capsys, "run", scenario_file, "--out", out, "--resume"),
        "was run with alsim 0.0.1",
    )
    manifest_path.write_text(json.dumps(manifest))
    # nothing was lost by the refusals; --resume finishes the run as an uninterrupted one
    code, _, err = run(capsys, "run", scenario_file, "--out", out, "--resume")
    assert code == 0, err
    full = tmp_path / "full"
    code, _, err = run(
        capsys, "run", scenario_file, "--out", full, "--n-rep", "6", "--chunk-size", "2"
    )
    assert code == 0, err
    pd.testing.assert_frame_equal(trials(full), trials(out))
    # grow refuses another scenario or seed too
    one_error_line(*run(capsys, "run", other, "--out", out, "--grow", "2"), "different scenario")
    one_error_line(
        *run(capsys, "run", scenario_file, "--out", out, "--grow", "2", "--seed", "1"),
        "--seed:",
    )


def test_overwrite_replaces_an_unfinished_run(tmp_path, capsys, scenario_file):
    out = unfinished(tmp_path)
    code, _, err = run(capsys, "run", scenario_file, "--out", out, "--overwrite", "--n-rep", "3")
    assert code == 0, err
    assert json.loads((out / "manifest.json").read_text())["n_rep"] == 3
    assert not (out / "chunks").exists()
