"""The key sealing secrets at rest: the configured one, or one made once in the data folder."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from adapters.platform.secret_settings import check_cipher_key
from adapters.platform.settings import Settings, SettingsError

CIPHER_KEY_FILE = "cipher.key"

log = logging.getLogger(__name__)


def resolve_cipher_key(settings: Settings) -> str:
    """The key sealing webhook secrets: FLOWLEDGER_CIPHER_KEY, else `<data_dir>/cipher.key`.

    Production sets FLOWLEDGER_CIPHER_KEY (the same value in every process). Without it, a
    key is created once in the data folder, readable by its owner only. Whichever key it is,
    losing it makes every sealed webhook secret unreadable: events are kept forever.
    """
    if settings.cipher_key is not None:
        return settings.cipher_key
    path = settings.data_dir / CIPHER_KEY_FILE
    if not path.exists():
        _create_key_file(path)
    raw = path.read_text(encoding="ascii").strip()
    try:
        return check_cipher_key(raw, path.parent)
    except ValueError as exc:
        raise SettingsError([f"{path}: {exc}"]) from None


def _create_key_file(path: Path) -> None:
    from adapters.platform.secrets import SecretBox  # deferred: it loads the cipher library

    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: another process starting at the same moment
    # sees either no file or the whole key, and exactly one key wins.
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".cipher-", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(SecretBox.generate_key() + "\n")
        try:
            os.link(scratch, path)
        except FileExistsError:
            return
    finally:
        os.unlink(scratch)
    log.warning(
        "FLOWLEDGER_CIPHER_KEY is unset: created a cipher key in %s; keep it safe, "
        "or set FLOWLEDGER_CIPHER_KEY in production",
        path,
    )
