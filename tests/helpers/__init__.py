"""Test-only helpers, importable as ``helpers`` (the root conftest puts tests/ on the path)."""
