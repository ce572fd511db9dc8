"""The phases of one simulated day, in the order :meth:`sim.core.model.ChannelMarket.step` runs them.

Each phase is a function ``phase(model, rng)`` in its own module. It reads and writes the
customer arrays, writes what happened into the ledger recorder, and draws a fixed-size block
of random numbers from its own stream every day, whether or not anyone is active.
"""
