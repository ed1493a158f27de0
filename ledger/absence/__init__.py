"""Absence decisions: campaigns, candidates, windows, platform events and their rulings.

Pure rules (``rules``, ``anomaly``, ``webhooks``, ``imports``) take values and time as
parameters; ``vault`` holds personal data encrypted; ``service`` turns commands into
ledger entries and keeps the projections (``projection``) in the same transaction.
"""
