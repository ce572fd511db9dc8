"""The ``channelsim`` sub-commands. Each module has ``register(subparsers)``.

Commands are found through the ``channelsim.commands`` entry-point group (pyproject.toml), so the
optimisers can add ``channelsim optimize`` without ``sim`` ever importing ``optimizers``.
"""

from sim.commands.options import add_override_options
from sim.commands.progress import ProgressBar, add_progress_option

__all__ = ["ProgressBar", "add_override_options", "add_progress_option"]
