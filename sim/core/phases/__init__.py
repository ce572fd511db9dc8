"""The phases of one simulated day, in the order ``ChannelMarket.step`` runs them.

Each phase is a function ``phase(model: ChannelMarket, rng: Generator) -> None`` in its own
module. It reads and writes the customer arrays, hands what the next phases need over in
``model.today`` (a :class:`sim.core.day.Today`), writes what happened into the ledger recorder,
and draws a fixed-size block of random numbers from its own stream every day, whether or not
anyone is active. The levers' two phases live in :mod:`sim.levers` (``promote``,
``follow_up``), fulfilment from stock in :mod:`sim.inventory.fulfilment`.
"""
