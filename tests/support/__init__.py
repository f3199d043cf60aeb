"""Helpers shared by the test packages: each lives here once and is imported where it is used."""
