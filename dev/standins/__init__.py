"""Local stand-ins for the Car-Cutter and Clipping Magic APIs: real HTTP servers for tests, demos and benchmarks.

Start them as `python -m dev.standins.clippingmagic ...` and `python -m dev.standins.carcutter ...`.
Every place where the published documents are silent is recorded in `dev.standins.guesses`.
"""
