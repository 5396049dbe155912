"""The lobby: its rules, the gateway services and the `lobby` command."""
