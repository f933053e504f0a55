"""A step's files on the runner: its workspace, artifacts, downloads and cache."""
