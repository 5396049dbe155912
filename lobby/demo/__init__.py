"""The demo: the example configuration on simulated hardware with a local broker."""
