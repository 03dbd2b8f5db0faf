"""Which requests are captured: ``InitialSamplingPercentage`` applied per request."""

from __future__ import annotations

import hashlib
import random

_SCALE = 100.0 / 2**64


def should_sample(percentage: float, inference_id: str | None) -> bool:
    """Whether to capture a request, for a sampling percentage between 0 and 100.

    0 never samples and 100 always does. With an inference id the decision is a
    hash of the id (its 8-byte BLAKE2b digest, read as a number uniform in
    [0, 100)), so a retried request with the same id is sampled the
    same way in every process. Without one it is ``random.random() * 100``.
    """
    if percentage >= 100.0:
        return True
    if not percentage > 0.0:  # also NaN
        return False
    if inference_id is None:
        return random.random() * 100.0 < percentage
    digest = hashlib.blake2b(inference_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") * _SCALE < percentage
