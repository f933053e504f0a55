"""The dispatcher role: run and step events become jobs on JetStream; silent runners are reaped."""
