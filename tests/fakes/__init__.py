"""Test doubles shared by every test layer."""
