"""The Temu sandbox's rooms: one mixin per API area over one shared world.

`world.World` holds what every room reads (shops, app keys, seed, ids, clock, faults, the one
lock); `auth`, `goods`, `orders`, `logistics` and `gateway` each keep their own records and the
admin and API methods of their area. `local.sandboxes.temu.state.SandboxState` composes them and
is the only class callers use.
"""
