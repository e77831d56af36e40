"""The built-in demo model: its recipe (build.py), its synthetic training data (data.py) and chat template."""
