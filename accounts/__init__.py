"""Accounts: individual users with argon2 password hashes, their role (operator,
supervisor, auditor, admin), login sessions (opaque bearer tokens stored hashed), and the
role checks every HTTP route goes through."""
