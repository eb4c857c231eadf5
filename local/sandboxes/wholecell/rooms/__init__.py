"""The WholeCell sandbox's rooms: one mixin per API area over one shared world.

`world.World` holds what every room reads (the accounts, ids, the clock, faults, rate limit,
ignored filters and the one lock); `accounts`, `inventory`, `orders` and `shipments` hold the
methods of their area. `local.sandboxes.wholecell.state.WholeCellState` composes them and is the
only class callers use.
"""
