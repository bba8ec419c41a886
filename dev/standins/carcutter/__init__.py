"""Car-Cutter stand-in: `python -m dev.standins.carcutter --token TOKEN [knobs]`."""
