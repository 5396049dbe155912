"""Example simulator line configurations (data files)."""
