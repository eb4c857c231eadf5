"""Developer stack: sandboxes of the two APIs, the local runner and the demo scenario.

Never deployed; nothing in the layer imports from here.
"""
