"""How long a call that may have reached a service is settled by asking it, before it may count as never made.

A service can file a submission late (queued before it is registered), lose its answer after billing, or list
an upload late. "Unknown" soon after a call is therefore lag, not proof that the call never arrived: only once
the service still does not know it this long after the call went out may a claim be given back, taken over or
the call made again (shared design, round 3: "Unknown is not never received"). Shorter is faster after a lost
answer and a killed worker, and pays twice for every image the service registers later than that.
"""

from __future__ import annotations

DEFAULT_REGISTRATION_GRACE_SECONDS = 120.0
