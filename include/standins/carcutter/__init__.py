"""Car-Cutter stand-in: `python -m include.standins.carcutter --token TOKEN [knobs]`."""
