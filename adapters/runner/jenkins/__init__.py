"""Jenkins steps on the runner: the remote access API and following one build."""
