"""Jobs: step attempts handed to runners through a JetStream work queue."""
