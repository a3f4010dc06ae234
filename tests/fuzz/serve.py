"""The users service under uvicorn, in a process of its own: ``python -m tests.fuzz.serve ORM DATABASE_URL``.

Binds a free loopback port and prints it on the first line of stdout, then
serves until terminated. A process of its own, so that whatever a driver leaves
running at shutdown (an async pool's connections) cannot hold up the test.
"""

from __future__ import annotations

import importlib
import socket
import sys

import uvicorn
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from ormgate.demo import common


def main(orm: str, database_url: str) -> None:
    # Argon2 at the recommended cost takes a quarter of a second a hash and the fuzzer creates
    # hundreds of users: the same hasher, at its cheapest, keeps the run short. Hashing is not under test.
    common.hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    app = importlib.import_module(f"ormgate.demo.{orm}_app").create_app(database_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", ws="none", lifespan="on"))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main(*sys.argv[1:])
