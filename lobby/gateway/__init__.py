"""The headless gateway service: meters, patrol, buttons, device health, on top of the bridge."""
