"""Rotating the encryption key (`sfgr keys rotate`): every stored secret is re-encrypted under
SFGR_ENCRYPTION_KEY in one transaction, read with it or with one of SFGR_ENCRYPTION_PREVIOUS_KEYS.

The order an operator follows (README "Security"): put the new key in SFGR_ENCRYPTION_KEY and the
old one in SFGR_ENCRYPTION_PREVIOUS_KEYS, restart, run this, then drop the old key.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.crypto import SecretBox
from app.db import sealed


async def rotate_keys(session: AsyncSession, box: SecretBox) -> dict[str, int]:
    """Re-encrypts everything and commits; a value no key opens rolls the whole rotation back."""
    try:
        counts = await sealed.reseal_all(session, box.reseal)
    except ValueError:
        await session.rollback()
        raise
    await session.commit()
    return counts
