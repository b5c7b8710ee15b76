"""What the integration remembers (SQLModel): bindings, cursors, leases, runs, dead letters.

Use the modules as repositories: `from store import binder, cursors, leases, runs, dead_letters`.
"""
