"""On-arrival starts: from the listings queue's messages to the runs they start."""
