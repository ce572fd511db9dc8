"""The phases of one simulated day, in the order ``ChannelMarket.step`` runs them.

Each phase is a function ``phase(model: ChannelMarket) -> None`` in its own module. It reads
and writes the customer arrays, hands what the next phases need over in ``model.today`` (a
:class:`sim.core.day.Today`), writes what happened into the ledger recorder, and draws its
random numbers from ``model.draws`` (:class:`sim.core.streams.Draws`): counter-based uniforms
keyed by (seed, replication, decision, day, customer), for the customers it acts on only.
The levers' two phases live in :mod:`sim.levers` (``promote``, ``follow_up``), fulfilment from
stock in :mod:`sim.inventory.fulfilment`.
"""
