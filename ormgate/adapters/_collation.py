"""Text equality on MySQL and MariaDB: what it takes to mean what SQLite and PostgreSQL mean.

Their default collations ignore case and accents, pad with spaces (``'a' = 'a '``)
and, in MariaDB's ``utf8mb4_general_ci``, weigh every character beyond the BMP
alike (``'💩' = '😀'``): a unique index would refuse the second of each pair.
SQLite and PostgreSQL (deterministic collations) compare code points. So:

- tables ormgate creates get a binary NO PAD collation, which compares code
  points too, for uniqueness, equality and order;
- ormgate's own equality filters also compare the values' UTF-8 bytes, for
  tables made otherwise (each adapter writes that comparison in its ORM's terms).
"""

from __future__ import annotations

from collections.abc import Iterable

# The binary NO PAD collation of utf8mb4, by server: MariaDB 10.2 and later, MySQL
# 8.0.17 and later. MySQL has no utf8mb4_nopad_bin, MariaDB no utf8mb4_0900_bin, and
# the utf8mb4_bin both have pads (its unique index takes 'a' and 'a ' for one value).
_NO_PAD_BINARY = {True: "utf8mb4_nopad_bin", False: "utf8mb4_0900_bin"}


def exact_collation(mariadb: bool) -> str:
    """The collation of text in tables ormgate creates on MariaDB (``mariadb``) or MySQL."""
    return _NO_PAD_BINARY[mariadb]


def states_charset(options: Iterable[str]) -> bool:
    """Whether table options (their names, or their SQL) choose a character set or collation: the user's stands."""
    return any(word in option.lower() for option in options for word in _CHARSET_WORDS)


_CHARSET_WORDS = ("charset", "character set", "character_set", "collate")
