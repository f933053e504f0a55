"""Crypto-shredding at the event store's boundary: personal fields sealed per data subject.

`cipher` seals and opens text, `keys` keeps the subjects' data keys (outside the events table),
`sealer` seals what the domain marks personal before an append, `reveal` opens it on the read
path, showing `domain.personal.ERASED` once the subject's key is gone.
"""
