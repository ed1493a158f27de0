"""Console accounts: users with roles, Argon2id passwords, TOTP, sessions and lockout.

The ledger records every account event (``user.*`` entries) by user id and role only:
login names may be personal data (an e-mail address, a name) and stay in the
operational ``console_accounts`` table with the hashes and secrets.
"""
