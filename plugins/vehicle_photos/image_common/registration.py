"""How long a call that may have reached a paid service is asked about before it counts as never received
(shared design, round 3: "Unknown is not never received"). A service may register a submission, or list an
upload, some time after it was made, and may lose its answer after billing; only once it has been asked
repeatedly over this period, without knowing the call, may a claim be given back or the call be made again.
Shortening it makes a lost answer cost less waiting and makes a second charge more likely."""

DEFAULT_REGISTRATION_GRACE_SECONDS = 120.0
