"""One module per tool-call format family; each exposes Format objects that cascade.REGISTRY lists."""
