"""Who holds a lease on a row: owner ids of this host's processes, and whether one has exited.

Schedulers and asynchronous workers claim rows with an owner id
(:func:`instance_name`) and a lease time; a row whose owner was a process of
this host that no longer exists is taken over at once (:func:`owner_gone`),
others when their lease expires.
"""

from __future__ import annotations

import os
import socket
import uuid


def instance_name() -> str:
    """An owner id for this process: ``{host}:{pid}:{random}``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_gone(owner: str) -> bool:
    """Whether ``owner`` (an :func:`instance_name`) was a process of this host that has exited.

    Owners on other hosts, and other owners of this process, are judged by their
    lease alone.
    """
    host, _, rest = owner.partition(":")
    if host != socket.gethostname():
        return False
    try:
        pid = int(rest.partition(":")[0])
    except ValueError:
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
