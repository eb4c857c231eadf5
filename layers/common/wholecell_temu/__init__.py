"""Shared package of the WholeCell <-> Temu integration (deployed as a Lambda layer)."""
