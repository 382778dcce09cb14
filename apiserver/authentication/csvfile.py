"""The users files of ``--token-auth-file`` and ``--basic-auth-file``: CSV records
``secret,user name,user uid[,"group1,group2"]`` (upstream kubernetes/apiserver:plugin/pkg/
authenticator/token/tokenfile/tokenfile.go ``NewCSV`` and, before 1.19, plugin/pkg/
authenticator/password/passwordfile/passwordfile.go).

As upstream's ``encoding/csv`` reader with ``FieldsPerRecord = -1``: records may have any
number of fields, but fewer than three is an error; empty lines are skipped; the quoted
fourth field is split on commas into groups.  Errors name the file and the line, never the
secret.  Differences, on purpose: a UTF-8 byte-order mark is ignored, and empty group names
(an empty fourth column, ``"a,,b"``) are dropped where upstream keeps ``""`` as a group.

May import: apiserver.authentication.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass

from apiserver.authentication.user import UserInfo


@dataclass(frozen=True)
class Record:
    """One user of a file: its secret (token or password), identity and where it was."""

    secret: str
    name: str
    uid: str
    groups: tuple
    line: int

    def user(self) -> UserInfo:
        """A fresh UserInfo of this record (callers may not share a mutable one)."""
        return UserInfo(name=self.name, uid=self.uid, groups=self.groups)


def split_groups(value: str) -> tuple:
    """The groups of a fourth column: comma-separated, empty names dropped."""
    return tuple(g for g in value.split(",") if g)


def read_records(path: str, kind: str, secret: str) -> list[Record]:
    """Every record of CSV file ``path`` in file order.  ``kind`` names the file in errors
    ("token file"), ``secret`` the first column ("token").  An unreadable file, malformed
    CSV or a record of fewer than three columns raises ValueError naming the file and line."""
    records = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            try:
                for row in reader:
                    if not row:          # an empty line is no record (as encoding/csv)
                        continue
                    if len(row) < 3:
                        raise ValueError(
                            f"{kind} {path!r} line {reader.line_num}: must have at least 3 "
                            f"columns ({secret}, user name, user uid), found {len(row)}")
                    groups = split_groups(row[3]) if len(row) >= 4 else ()
                    records.append(Record(row[0], row[1], row[2], groups, reader.line_num))
            except csv.Error as exc:
                raise ValueError(f"{kind} {path!r} line {reader.line_num}: {exc}") from None
    except OSError as exc:
        raise ValueError(f"{kind} {path!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{kind} {path!r}: not UTF-8 text") from None
    return records
