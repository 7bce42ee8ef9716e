# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The configuration files of one host, written as one change.

Each wanted file (content, owner, group, mode) is compared with what the host holds; only
the files that differ are replaced, each by a rename of a staged copy that already has its
owner and mode, and only after every staged copy is written: a failure while staging (a full
disk, an unknown group) leaves every file as it was. Directories named alongside are created
or corrected first. Runs on the managed host: standard library only.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import tempfile
from dataclasses import dataclass, field


class ConfigError(Exception):
    pass


@dataclass
class Wanted:
    path: str
    uid: int
    gid: int
    mode: int
    content: bytes | None = None  # None for a directory
    differs: list = field(default_factory=list)
    before: bytes | None = None


def _id(kind, name, where):
    """uid (kind owner) or gid (kind group) of a name or number; -1 (keep) when unset."""
    if name is None:
        return -1
    if str(name).isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name).pw_uid if kind == "owner" else grp.getgrnam(name).gr_gid
    except KeyError:
        raise ConfigError(f"{where}.{kind}: no {'user' if kind == 'owner' else 'group'} named {name!r} on this host") from None


def _mode(value, where):
    text = str(value)
    if not text or any(char not in "01234567" for char in text) or int(text, 8) > 0o7777:
        raise ConfigError(f"{where}.mode: {value!r} is not an octal mode such as '0640'")
    return int(text, 8)


def wanted(spec, where, is_dir=False):
    """A Wanted from a task's entry; raises ConfigError naming the bad field."""
    path = spec.get("path")
    if not path or not os.path.isabs(path):
        raise ConfigError(f"{where}.path: {path!r} is not an absolute path")
    content = None if is_dir else spec.get("content")
    if not is_dir and content is None:
        raise ConfigError(f"{where}.content: required for a file")
    return Wanted(path=os.path.normpath(path), uid=_id("owner", spec.get("owner"), where),
                  gid=_id("group", spec.get("group"), where), mode=_mode(spec.get("mode", "0755" if is_dir else "0644"), where),
                  content=None if is_dir else content.encode("utf-8"))


def compare(item):
    """Fills `item.differs` (what the host lacks) and `item.before` (a file's old content)."""
    try:
        found = os.lstat(item.path)
    except FileNotFoundError:
        item.differs = ["missing"]
        return item
    is_dir = item.content is None
    if stat.S_ISDIR(found.st_mode) != is_dir or stat.S_ISLNK(found.st_mode):
        raise ConfigError(f"{item.path}: exists but is not a {'directory' if is_dir else 'regular file'}")
    differs = []
    if not is_dir:
        with open(item.path, "rb") as handle:
            item.before = handle.read()
        if item.before != item.content:
            differs.append("content")
    if item.uid != -1 and found.st_uid != item.uid:
        differs.append("owner")
    if item.gid != -1 and found.st_gid != item.gid:
        differs.append("group")
    if stat.S_IMODE(found.st_mode) != item.mode:
        differs.append("mode")
    item.differs = differs
    return item


def ensure_directory(item):
    if "missing" in item.differs:
        os.makedirs(os.path.dirname(item.path), mode=0o755, exist_ok=True)
        os.mkdir(item.path, item.mode)
    os.chown(item.path, item.uid, item.gid)
    os.chmod(item.path, item.mode)


def stage(item):
    """A copy of the wanted file beside it, with its owner and mode; returns its path."""
    fd, staged = tempfile.mkstemp(dir=os.path.dirname(item.path), prefix=f".{os.path.basename(item.path)}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(item.content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chown(staged, item.uid, item.gid)
        os.chmod(staged, item.mode)
    except OSError:
        os.unlink(staged)
        raise
    return staged


def apply(directories, files):
    """Writes what differs: directories first, then every file staged, then every rename."""
    for item in directories:
        if item.differs:
            ensure_directory(item)
    pending = [item for item in files if item.differs]
    staged = []
    try:
        for item in pending:
            staged.append((stage(item), item.path))
    except OSError:
        for path, _target in staged:
            os.unlink(path)
        raise
    done = []
    for path, target in staged:
        try:
            os.replace(path, target)
        except OSError as exc:
            raise ConfigError(f"{target}: the rename failed ({exc.strerror}); already replaced: {done or 'none'}") from exc
        done.append(target)
