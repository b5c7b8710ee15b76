"""Helpers shared by the tests (builders, sandbox set-up, fakes). conftest modules hold only
fixtures; a test imports what it needs from here."""
