"""The model: :class:`ChannelMarket` (a ``mesa.Model``) with channel agents and a vectorised
customer population, the phases of a day, the random streams, and the ledger it records."""

from sim.core.ledger import Ledger
from sim.core.model import ChannelMarket, simulate

__all__ = ["ChannelMarket", "Ledger", "simulate"]
