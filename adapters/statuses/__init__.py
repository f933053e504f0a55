"""Commit statuses: a run's progress reported back to the GitHub or GitLab commit it built."""
