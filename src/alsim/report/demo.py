"""`alsim demo`: the main job end to end on embedded defaults.

For now it scores the bundled example patient and writes ``report.html`` (plus the scored
visits as CSV and a JSON summary). Later releases add cohorts and trials to the same report.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from alsim.report.html import write_text_atomic
from alsim.report.patient import load_patient, patient_report


def run_demo(out: Path | str) -> Path:
    """Write the demo outputs into ``out`` and return the report's path.

    Outputs are produced in a temporary folder first and moved in only when all of them are
    complete, so an interrupted demo never leaves a half-written report.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    html, scored, summary = patient_report(load_patient())
    with tempfile.TemporaryDirectory(dir=out, prefix=".demo-") as tmp:
        staging = Path(tmp)
        scored.to_csv(staging / "example_patient_scores.csv", index=False)
        (staging / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
        write_text_atomic(staging / "report.html", html)
        for name in ("example_patient_scores.csv", "summary.json", "report.html"):
            shutil.move(staging / name, out / name)
    return out / "report.html"
