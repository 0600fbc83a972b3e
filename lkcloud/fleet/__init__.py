"""Fleets defined as data: each provider's defaults (``templates/fleets.yml``) and fleet files
(``fleet.yml``: build, push and roll in one step)."""
