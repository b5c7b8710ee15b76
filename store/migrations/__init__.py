"""Alembic migrations of the store (store/schema.py applies them; alembic.ini at the repo root
lets a developer write the next one: `alembic revision --autogenerate -m "..."`)."""
