"""Absentia's tamper-evident ledger.

The pure core (``jcs``, ``merkle``, ``note``, ``checkpoint``, ``tiles``, ``proof``,
``entry``, ``events``, ``verify``) takes bytes and values and raises; it imports
neither Flask nor SQLAlchemy.  ``ledger.storage``, ``ledger.app.web`` and
``ledger.app.scheduler`` are the adapters around it.
"""
