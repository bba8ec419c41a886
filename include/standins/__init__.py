"""Local stand-ins for the Car-Cutter and Clipping Magic APIs: real HTTP servers for tests, demos and benchmarks.

Start them as `python -m include.standins.clippingmagic ...` and `python -m include.standins.carcutter ...`.
Every place where the published documents are silent is recorded in `include.standins.guesses`.
"""
