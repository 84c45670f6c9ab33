"""Screenshots of the web app for docs/web.md (a script, not a test).

Starts the app on a free localhost port with a temporary data directory, fills it with demo
data through the JSON API, and writes PNGs at desktop (1280 px) and phone (390 px) widths into
``docs/web/``, using Debian's Chromium through Playwright::

    .venv/bin/python tests/web/screenshots.py [--out docs/web]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import LiveServer  # noqa: E402
from test_e2e import CHROMIUM, LAUNCH_ARGS  # noqa: E402

PASSWORD = "demo password 1"
DEMO_PATIENT = {
    "label": "DEMO-SOD1",
    "sex": "female",
    "birth_year": 1966,
    "onset_date": "2025-01-10",
    "diagnosis_date": "2025-08-15",
    "onset_region": "spinal",
    "genotype": "SOD1",
    "el_escorial": "probable",
    "ftd": False,
    "notes": "Demo record (invented data).",
}
DEMO_VISITS = [
    ("2025-08-20", [4, 4, 4, 3, 3, 3, 4, 3, 3, 4, 4, 4], 96.0, 64.0, 48.0),
    ("2025-12-02", [4, 4, 4, 3, 3, 3, 3, 3, 2, 4, 4, 4], 91.0, 63.1, 52.0),
    ("2026-04-10", [4, 3, 4, 2, 2, 3, 3, 2, 2, 3, 4, 4], 84.0, 61.8, 58.0),
    ("2026-08-01", [3, 3, 3, 2, 2, 2, 2, 2, 1, 3, 3, 4], 77.0, 60.2, 61.0),
]
OTHER_PATIENTS = [
    {
        "label": "DEMO-C9",
        "sex": "male",
        "birth_year": 1957,
        "onset_date": "2024-01-10",
        "diagnosis_date": "2024-06-01",
        "onset_region": "bulbar",
        "genotype": "C9orf72",
        "el_escorial": "definite",
        "ftd": True,
    },
    {
        "label": "DEMO-SPORADIC",
        "sex": "male",
        "birth_year": 1971,
        "onset_date": "2022-05-01",
        "diagnosis_date": "2023-02-01",
        "onset_region": "spinal",
        "genotype": "sporadic",
        "el_escorial": "possible",
        "ftd": False,
    },
]


def seed(base: str) -> dict[str, Any]:
    """Demo user, patients and visits through the JSON API; returns ids."""
    import httpx

    client = httpx.Client(base_url=base, timeout=30)
    body = (
        client.post("/api/v1/auth/register", json={"username": "demo", "password": PASSWORD})
        .raise_for_status()
        .json()
    )
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    pid = client.post("/api/v1/patients", json=DEMO_PATIENT).raise_for_status().json()["id"]
    for date, items, fvc, weight, nfl in DEMO_VISITS:
        client.post(
            f"/api/v1/patients/{pid}/visits",
            json={
                "visit_date": date,
                "items": items,
                "fvc_percent": fvc,
                "weight_kg": weight,
                "nfl_pg_ml": nfl,
                "nfl_matrix": "serum",
            },
        ).raise_for_status()
    for other in OTHER_PATIENTS:
        oid = client.post("/api/v1/patients", json=other).raise_for_status().json()["id"]
        client.post(
            f"/api/v1/patients/{oid}/visits",
            json={
                "visit_date": "2024-09-01",
                "items": [3, 2, 3, 4, 4, 4, 4, 3, 3, 4, 4, 4],
                "fvc_percent": 88.0,
            },
        ).raise_for_status()
    return {"patient": pid, "cookies": dict(client.cookies), "client": client}


def start_research(client: Any) -> str | None:
    """Run the small example scenario through the API; the results page URL (None if failed)."""
    examples = client.get("/api/v1/scenarios/examples").raise_for_status().json()
    run = (
        client.post("/api/v1/runs", json={"example": examples[0]["id"], "n_rep": 100, "seed": 1})
        .raise_for_status()
        .json()
    )
    deadline = time.monotonic() + 240
    status = run["status"]
    while status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(1)
        status = client.get(f"/api/v1/runs/{run['id']}").raise_for_status().json()["status"]
    if status != "done":
        print(f"research run {run['id']} ended as {status}", file=sys.stderr)
        return None
    return f"/research/runs/{run['id']}"


def shrink(path: Path) -> None:
    """Re-save as a 256-colour PNG: a UI screenshot stays legible at a fraction of the size."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def shoot(base: str, ids: dict[str, Any], out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    pid = ids["patient"]
    written: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)

        def context(width: int, height: int, lang: str = "en") -> Any:
            ctx = browser.new_context(
                viewport={"width": width, "height": height}, device_scale_factor=1
            )
            host = base.split("//", 1)[1].split(":")[0]
            ctx.add_cookies(
                [
                    {"name": k, "value": v, "domain": host, "path": "/"}
                    for k, v in ids["cookies"].items()
                ]
                + [{"name": "alsim_lang", "value": lang, "domain": host, "path": "/"}]
            )
            return ctx

        def save(page: Any, name: str, selector: str | None = None) -> None:
            path = out / name
            if selector:
                page.locator(selector).first.screenshot(path=str(path))
            else:
                page.screenshot(path=str(path))
            shrink(path)
            written.append(path)

        desktop = context(1280, 800).new_page()
        desktop.goto(f"{base}/patients/{pid}")
        save(desktop, "record-desktop.png")
        save(desktop, "prognosis-desktop.png", "#prognosis")
        save(desktop, "charts-desktop.png", ".charts")
        desktop.goto(f"{base}/patients/{pid}/eligibility")
        save(desktop, "eligibility-desktop.png")
        research_url = start_research(ids["client"])
        if research_url:
            desktop.goto(f"{base}{research_url}")
            save(desktop, "research-desktop.png")

        chinese = context(1280, 800, "zh").new_page()
        chinese.goto(f"{base}/patients/{pid}")
        save(chinese, "record-zh-desktop.png")

        phone = context(390, 844).new_page()
        phone.goto(f"{base}/patients/{pid}")
        save(phone, "record-phone.png")
        phone.evaluate("document.getElementById('add-visit').scrollIntoView()")
        save(phone, "visit-form-phone.png")
        browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE.parents[1] / "docs" / "web")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"needs Chromium at {CHROMIUM}", file=sys.stderr)
        return 2
    from alsim.web.app import create_app
    from alsim.web.config import Settings

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings.load(data_dir=Path(tmp)))
        with LiveServer(app) as server:
            ids = seed(server.url)
            written = shoot(server.url, ids, args.out)
    for path in written:
        print(f"{path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
