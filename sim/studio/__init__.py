"""The plan studio: ``channelsim studio``, a local web app on ``scenarios/`` and ``results/``.

The top layer of ``sim``: it uses the public API (scenarios, ``evaluate``, targets, the
Mesa model) and nothing in ``sim`` imports it except the ``studio`` command. The logic lives in
plain modules that work and are tested without a browser; the pages only show it:

* :mod:`sim.studio.roots` — the scenarios and results folders, and the rule that every path
  from the page stays under them;
* :mod:`sim.studio.levers` — the plan's levers as form fields (units, ranges from the schema);
* :mod:`sim.studio.editing` — loading the two files, applying edits, validating;
* :mod:`sim.studio.plans` — the minimal change to the baseline, saved as a plan that extends it;
* :mod:`sim.studio.background` — a comparison run batch by batch in a background thread;
* :mod:`sim.studio.results_index` — the results browser's index of results directories;
* :mod:`sim.studio.app` — the model day by day, Mesa's SolaraViz (``solara run
  sim/studio/app.py`` runs it alone);
* :mod:`sim.studio.pages` — the Solara pages; :mod:`sim.studio.server` — serving them.

Importing this package loads no web framework; :mod:`sim.studio.app`, ``pages`` and ``server``
load Solara.
"""

from sim.studio.plans import PlanDiffError, changes, plan_diff, save_plan
from sim.studio.results_index import list_results
from sim.studio.roots import Roots, confine

__all__ = ["PlanDiffError", "Roots", "changes", "confine", "list_results", "plan_diff", "save_plan"]
