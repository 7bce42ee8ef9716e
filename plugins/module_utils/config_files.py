# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The configuration files of one host, written as one change.

Each wanted file (content, owner, group, mode) is compared with what the host holds; only
the files that differ are replaced, each by a rename of a staged copy that already has its
owner and mode, and only after every staged copy is written. Directories named alongside are
created or corrected first. A file with a `validate` command is checked by it on its staged
copy before any rename. Every entry is checked before anything is written, and a failure
while staging (a full disk) or a staged copy its command refuses removes the staged copies
and undoes the directories' changes: a refused or failed call leaves the host as it was. Runs on the managed host: standard
library only.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shlex
import stat
import tempfile
from dataclasses import dataclass, field

# An unset directory mode keeps an existing directory's; a new one gets this.
NEW_DIRECTORY_MODE = 0o755
DEFAULT_FILE_MODE = 0o644
OCTAL = re.compile(r"[0-7]+")
DECIMAL = re.compile(r"[0-9]+")
# uid_t and gid_t are 32 bits; the largest value, (uid_t) -1, means "unchanged" to chown.
MAX_ID = 2 ** 32 - 2
# A newline or tab in a path is almost always a template's slip (a trailing newline), never a
# configuration file's name.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


class ConfigError(Exception):
    """Nothing was changed: the message names the entry (and field) at fault."""


class PartlyWrittenError(ConfigError):
    """A rename failed after others were done: the message names what was replaced."""


@dataclass
class Wanted:
    path: str
    where: str  # the task's field, as messages name it: files[0]
    uid: int
    gid: int
    mode: int | None  # None keeps an existing directory's mode
    content: bytes | None = None  # None for a directory
    differs: list = field(default_factory=list)
    before: bytes | None = None
    warnings: list = field(default_factory=list)
    validate: list | None = None  # argv, with %s where the staged copy's path goes


@dataclass
class Plan:
    directories: list
    files: list

    @property
    def warnings(self):
        return [warning for item in self.directories + self.files for warning in item.warnings]

    @property
    def changed_directories(self):
        return [item.path for item in self.directories if item.differs]

    @property
    def changed_files(self):
        return [item.path for item in self.files if item.differs]


def shown(value):
    """`value` as a message shows it: its repr, cut short when long."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}...{text[-15:]} ({len(str(value))} characters)"


def _path(value, where):
    if not isinstance(value, str) or not os.path.isabs(value):
        raise ConfigError(f"{where}.path: {shown(value)} is not an absolute path")
    if CONTROL_CHARACTER.search(value):
        raise ConfigError(f"{where}.path: {shown(value)} holds a control character (a NUL, newline or tab)")
    if ".." in value.split("/"):
        raise ConfigError(f"{where}.path: {shown(value)} has a '..' component; name the path it means")
    try:
        os.fsencode(value)
    except UnicodeEncodeError:
        raise ConfigError(f"{where}.path: {shown(value)} is not valid text") from None
    return os.path.normpath(value)


def _id(kind, name, where):
    """uid (kind owner) or gid (kind group) of a name or number; -1 (keep) when unset."""
    if name is None:
        return -1
    if not isinstance(name, str):
        raise ConfigError(f"{where}.{kind}: {shown(name)} is not a name or a number")
    if DECIMAL.fullmatch(name):
        if int(name) > MAX_ID:
            raise ConfigError(f"{where}.{kind}: {name} is beyond the largest {'uid' if kind == 'owner' else 'gid'}, {MAX_ID}")
        return int(name)
    try:
        return pwd.getpwnam(name).pw_uid if kind == "owner" else grp.getgrnam(name).gr_gid
    # ValueError: a name with a NUL, or one that is not valid text, names nobody either.
    except (KeyError, ValueError):
        raise ConfigError(f"{where}.{kind}: no {'user' if kind == 'owner' else 'group'} named {shown(name)} "
                          f"on this host") from None


def _mode(value, where, warnings):
    """The mode of an octal string; an int is taken as the number it is, as
    ansible.builtin.file does, with a warning: an unquoted YAML 0644 is the int 420."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 0o7777:
            raise ConfigError(f"{where}.mode: the number {value} is no mode; quote an octal mode such as '0640'")
        warnings.append(f"{where}.mode: the number {value} was taken as mode {value:04o}, as ansible.builtin.file "
                        f"takes it (an unquoted YAML 0644 is the number 420); quote modes, such as '0640'")
        return value
    if not isinstance(value, str) or not OCTAL.fullmatch(value) or int(value, 8) > 0o7777:
        raise ConfigError(f"{where}.mode: {shown(value)} is not an octal mode such as '0640'")
    return int(value, 8)


def wanted(spec, where, is_dir=False):
    """A Wanted from a task's entry; raises ConfigError naming the bad field."""
    warnings = []
    path = _path(spec.get("path"), where)
    content = None
    if not is_dir:
        if not isinstance(spec.get("content"), str):
            raise ConfigError(f"{where}.content: required for a file, as text")
        try:
            content = spec["content"].encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ConfigError(f"{where}.content: not valid text ({exc.reason} at character {exc.start})") from None
    mode = spec.get("mode")
    if mode is not None:
        mode = _mode(mode, where, warnings)
    elif not is_dir:
        mode = DEFAULT_FILE_MODE
    return Wanted(path=path, where=where, uid=_id("owner", spec.get("owner"), where),
                  gid=_id("group", spec.get("group"), where), mode=mode, content=content, warnings=warnings,
                  validate=None if is_dir else _validate(spec.get("validate"), where))


def _validate(value, where):
    """The argv of a validate command (split as a shell would, run without one); its %s is
    where the staged copy's path goes."""
    if value is None:
        return None
    try:
        argv = shlex.split(value) if isinstance(value, str) else None
    except ValueError as exc:
        raise ConfigError(f"{where}.validate: {shown(value)} cannot be split into arguments ({exc})") from None
    if not argv or not any("%s" in arg for arg in argv):
        raise ConfigError(f"{where}.validate: {shown(value)} must be a command that names the file as %s")
    return argv


def compare(item):
    """Fills `item.differs` (what the host lacks) and `item.before` (a file's old content)."""
    try:
        found = os.lstat(item.path)
    except FileNotFoundError:
        item.differs = ["missing"]
        return item
    except OSError as exc:
        raise ConfigError(f"{item.where}.path: {shown(item.path)} cannot be looked at: {exc.strerror}") from None
    is_dir = item.content is None
    if stat.S_ISDIR(found.st_mode) != is_dir or stat.S_ISLNK(found.st_mode):
        raise ConfigError(f"{item.where}.path: {item.path} exists but is not a {'directory' if is_dir else 'regular file'}")
    differs = []
    if not is_dir:
        try:
            with open(item.path, "rb") as handle:
                item.before = handle.read()
        except OSError as exc:
            raise ConfigError(f"{item.where}.path: {item.path} cannot be read: {exc.strerror}") from None
        if item.before != item.content:
            differs.append("content")
    if item.uid != -1 and found.st_uid != item.uid:
        differs.append("owner")
    if item.gid != -1 and found.st_gid != item.gid:
        differs.append("group")
    if item.mode is not None and stat.S_IMODE(found.st_mode) != item.mode:
        differs.append("mode")
    item.differs = differs
    return item


def plan(directory_specs, file_specs):
    """Every entry checked and compared with the host, before anything is written; raises
    ConfigError naming the first bad field."""
    directories = [compare(wanted(spec, f"directories[{index}]", is_dir=True)) for index, spec in enumerate(directory_specs)]
    files = [compare(wanted(spec, f"files[{index}]")) for index, spec in enumerate(file_specs)]
    first_of = {}
    for item in directories + files:
        if item.path in first_of:
            raise ConfigError(f"{item.where}.path: {item.path} is also {first_of[item.path]}.path")
        first_of[item.path] = item.where
    wanted_directories = {item.path for item in directories}
    for item in files:
        parent = os.path.dirname(item.path)
        if parent not in wanted_directories and not os.path.isdir(parent):
            raise ConfigError(f"{item.where}.path: its directory {parent} does not exist and is not in directories")
    wanted_files = {item.path: item.where for item in files}
    for item in directories:
        ancestor = os.path.dirname(item.path)
        while ancestor != os.path.dirname(ancestor):
            if ancestor in wanted_files:
                raise ConfigError(f"{item.where}.path: {item.path} lies below {wanted_files[ancestor]}.path, a file")
            ancestor = os.path.dirname(ancestor)
    return Plan(directories, files)


def ensure_directory(item, undo):
    """Creates or corrects a directory (missing parents with mode 0755); appends to `undo`
    what takes each step back. An unset mode keeps an existing directory's."""
    mode = item.mode
    if "missing" in item.differs:
        missing = []
        path = item.path
        while not os.path.lexists(path):
            missing.insert(0, path)
            path = os.path.dirname(path)
        for path in missing:
            os.mkdir(path, NEW_DIRECTORY_MODE)
            undo.append((os.rmdir, path))
        if mode is None:
            mode = NEW_DIRECTORY_MODE
    else:
        found = os.lstat(item.path)
        undo.append((os.chmod, item.path, stat.S_IMODE(found.st_mode)))
        undo.append((os.chown, item.path, found.st_uid, found.st_gid))
    os.chown(item.path, item.uid, item.gid)
    # After chown, which may clear the set-id bits.
    if mode is not None:
        os.chmod(item.path, mode)


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


def refused(item, staged, run):
    """Why `item`'s validate command refused its staged copy (the first line it wrote), or
    None when it accepted it. `run(argv)` -> (rc, stdout, stderr)."""
    argv = [arg.replace("%s", staged) for arg in item.validate]
    try:
        code, out, err = run(argv)
    except OSError as exc:
        return f"{argv[0]} could not run ({exc.strerror or exc})"
    if code == 0:
        return None
    said = next((line.strip() for line in (err or out or "").splitlines() if line.strip()), f"exit code {code}")
    return f"{argv[0]} refused it: {said}"


def apply(directories, files, run=None):
    """Writes what differs: directories first, then every file staged and, when it has a
    validate command, checked by `run(argv)` -> (rc, stdout, stderr) (the module's
    run_command), then every rename. A failure before
    the renames (a full disk, a chown refused, a staged copy refused) removes the staged
    copies and undoes the directories' changes, newest first, and raises ConfigError naming
    the entry; one of the renames raises PartlyWrittenError."""
    undo = []
    staged = []
    item = None

    def take_back():
        for path, _target in staged:
            os.unlink(path)
        for step, *args in reversed(undo):
            # Taking back what this call just did fails only when something else changed it
            # meanwhile; that is left as it is, and the error that stopped the call reported.
            with contextlib.suppress(OSError):
                step(*args)

    try:
        for item in directories:
            if item.differs:
                ensure_directory(item, undo)
        for item in files:
            if item.differs:
                staged.append((stage(item), item.path))
    except OSError as exc:
        take_back()
        raise ConfigError(f"{item.where}: writing {item.path} failed ({exc.strerror or exc})") from exc
    for item in files:
        copy = next((path for path, target in staged if target == item.path), None)
        why = refused(item, copy, run) if copy and item.validate else None
        if why:
            take_back()
            raise ConfigError(f"{item.where}.validate: {item.path} not written, {why}")
    done = []
    for path, target in staged:
        try:
            os.replace(path, target)
        except OSError as exc:
            raise PartlyWrittenError(f"{target}: the rename failed ({exc.strerror}); already replaced: {done or 'none'}") from exc
        done.append(target)
