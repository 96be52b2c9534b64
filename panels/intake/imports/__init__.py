"""Imports of result files from the bench: staging, preview, bulk commit (Django side)."""
