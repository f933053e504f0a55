"""Project secrets' values: encrypted at rest outside the events table, revealed to runners."""
