"""Clipping Magic stand-in: `python -m include.standins.clippingmagic --api-id ID --api-key KEY [knobs]`."""
