"""``channelsim studio``: the plan studio, a local web app on ``scenarios/`` and ``results/``.

Opens ``http://127.0.0.1:8765`` in the browser: a plan editor (the levers as a form, checked as
``validate`` checks them), comparisons run in the background with live verdicts, saving a plan
as a file that extends its baseline, a results browser, and the model day by day (Mesa's
SolaraViz). It binds 127.0.0.1 unless ``--host`` says otherwise; whoever can reach it can read
and write scenario files under ``--scenarios`` and read files under ``--results``, nothing else.
See ``docs/studio.md``.
"""

from __future__ import annotations

from pathlib import Path

from sim.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("studio", help="open the plan studio in the browser (a local web app)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 shares it)",
    )
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free one)")
    p.add_argument(
        "--scenarios",
        default="scenarios",
        metavar="DIR",
        help="the folder of scenario files it reads and saves plans to (default scenarios/)",
    )
    p.add_argument(
        "--results",
        default="results",
        metavar="DIR",
        help="the results folder it lists and serves reports from (default results/)",
    )
    p.add_argument("--workers", type=int, default=None, help="processes per run (default: cores)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(func=run)


def run(args) -> int:
    scenarios, results = Path(args.scenarios), Path(args.results)
    if not scenarios.is_dir():
        raise UsageError(f"--scenarios: not a directory: {scenarios}")
    if results.exists() and not results.is_dir():
        raise UsageError(f"--results: not a directory: {results}")
    from sim.studio.server import Roots, serve  # the web stack loads only for this command

    results.mkdir(parents=True, exist_ok=True)
    roots = Roots.make(scenarios, results, args.workers)
    return serve(roots, host=args.host, port=args.port, browser=not args.no_browser)
