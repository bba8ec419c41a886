"""Clipping Magic stand-in: `python -m dev.standins.clippingmagic --api-id ID --api-key KEY [knobs]`."""
