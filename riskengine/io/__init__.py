"""Readers for every supported source format.

Each reader turns one publisher's release into riskengine's canonical long
tables (see ``docs/data-format.md``); units and country codes are normalised
once, here, and nowhere else.
"""
