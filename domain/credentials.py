"""Whether a plain value looks like a credential: a pipeline definition is kept forever.

A definition's `env` values enter a `PipelineDefined` event, which is never changed or removed,
and reach every runner in the clear. A value that looks like a credential is therefore refused
when a definition is written (never on replay: old events stay readable). The rules are
deliberately narrow, to keep false alarms rare: known token shapes, private keys, passwords
inside URLs, and long unbroken tokens of high Shannon entropy. A value that only looks like one
(a public key id, a checksum) is declared not secret by its key in the step's `not_secret`.
"""

from __future__ import annotations

import math
import re
from collections import Counter

# Known shapes, each with the name shown in the refusal (never the value).
_KNOWN = (
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_\w{20,}")),
    ("a GitLab token", re.compile(r"\bgl(?:pat|dt|rt|cbt|ptt|ft)-[A-Za-z0-9_-]{16,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")),
    ("a Stripe key", re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}")),
    ("an OpenAI-style key", re.compile(r"\bsk-[A-Za-z0-9_-]{32,}")),
    ("a Google API key", re.compile(r"\bAIza[A-Za-z0-9_-]{35}")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")),
    ("a password in a URL", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.I)),
)
_TOKEN = re.compile(r"[A-Za-z0-9+/=_.~-]+")
TOKEN_MIN_CHARS = 20
"""Shorter random strings (build ids, short hashes) are too common to refuse."""
ENTROPY_MIN_BITS = 4.0
"""Bits a character. Hex tops out at 4.0 and English words sit near 3; random base64 or
alphanumerics of 20+ characters land above 4.2, so only mixed-alphabet tokens pass this bar."""


def shannon_entropy(text: str) -> float:
    """Bits a character of `text`'s own character distribution (0 for empty text)."""
    if not text:
        return 0.0
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in Counter(text).values())


def credential_kind(value: str) -> str | None:
    """What credential `value` looks like (a phrase to show), or None if it looks like none."""
    for kind, pattern in _KNOWN:
        if pattern.search(value):
            return kind
    for word in _TOKEN.findall(value):
        if len(word) < TOKEN_MIN_CHARS or not _mixed(word):
            continue
        if shannon_entropy(word) > ENTROPY_MIN_BITS:
            return "a high-entropy token"
    return None


def _mixed(word: str) -> bool:
    # Random tokens mix lower and upper case letters with digits; paths, slugs and prose don't.
    return (
        any(c.islower() for c in word)
        and any(c.isupper() for c in word)
        and any(c.isdigit() for c in word)
    )
