"""The plan's levers: pricing and the price band, promotions (calendar, pre-sale, flash sales,
member days, group buys), coupons, subscription and reminders, private tiers and membership
levels, and the two lever phases of a day (:mod:`sim.levers.engine`)."""
