"""Reproductions of the literature with the project's own model code."""
