"""The scheduler role: fires each due slot of each schedule once (see commands/scheduler.py)."""
