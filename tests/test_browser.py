"""The report in a real browser: headless Chromium opens report.html from disk.

Checks every image decodes (``naturalWidth > 0``), the page logs no console errors, and saves a
screenshot under ``tests/artifacts/``. Skipped, with the reason, when no Chromium is installed
(``.ci/run`` installs Debian's ``chromium``, so CI always runs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sim.reports.sections import SECTIONS

from .test_report import build_results

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def find_chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium installed (apt-get install chromium; .ci/run installs it)"
)

# Injected into a copy of the report only: records console errors and uncaught errors, then,
# once every image has loaded, writes what it found into the DOM for --dump-dom to return.
PROBE = """<script>
window.__errors = [];
const origError = console.error;
console.error = function (...a) { window.__errors.push(a.join(' ')); origError.apply(console, a); };
window.addEventListener('error', e => window.__errors.push(String(e.message || e.type)), true);
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const out = {images: imgs.length,
               broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length,
               widths: imgs.map(i => i.naturalWidth),
               sections: Array.from(document.querySelectorAll('section')).map(s => s.id),
               errors: window.__errors};
  const pre = document.createElement('pre');
  pre.id = 'probe-result';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium(*args: str, user_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(user_dir)}
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={user_dir}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    return build_results(tmp_path_factory.mktemp("browser") / "run") / "report.html"


def test_report_opens_offline_images_decode_no_console_errors(report, tmp_path):
    probe = report.with_name("probe.html")
    probe.write_text(
        report.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1), encoding="utf-8"
    )
    run = chromium(
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probe.as_uri(),
        user_dir=tmp_path / "profile1",
    )
    match = re.search(r'<pre id="probe-result">(.*?)</pre>', run.stdout, re.S)
    assert match, f"probe did not run; chromium said:\n{run.stderr[-2000:]}"
    result = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert result["images"] >= 6
    assert result["broken"] == 0 and min(result["widths"]) > 0
    assert result["errors"] == []
    assert result["sections"] == list(SECTIONS)
    # the original page (no probe) must not log console errors either
    plain = chromium(
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--dump-dom",
        report.as_uri(),
        user_dir=tmp_path / "profile2",
    )
    console = [ln for ln in plain.stderr.splitlines() if "CONSOLE" in ln]
    assert console == [], console
    assert "In one minute" in plain.stdout and "against baseline" in plain.stdout


def test_screenshot_is_saved_as_an_artifact(report, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")  # test output, never committed
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    run = chromium(
        f"--screenshot={shot}",
        "--window-size=1280,3000",
        "--hide-scrollbars",
        report.as_uri(),
        user_dir=tmp_path / "profile",
    )
    assert shot.is_file(), run.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
