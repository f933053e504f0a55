"""What every role stands on: settings, embedded servers, the supervisor, secrets at the edge."""
