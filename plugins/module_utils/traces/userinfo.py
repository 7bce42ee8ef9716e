# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The credentials a URL carries in its userinfo (user:password@ or token@): hidden wherever
a URL is shown, and named so that the modules keep them out of every output. Standard
library only: modules that show URLs without asking a trace backend (the dependency and
security gates) import this, not the HTTP client and its `requests`."""

from __future__ import annotations

import re

# The user:password@ (or token@) of a URL, anywhere in a text.
USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s@]*(?:@[^/?#\s@]*)*@")


def without_userinfo(text):
    """`text` with the userinfo of every URL in it replaced by ***, for every place a URL is
    shown (results, errors, evidence): it holds credentials."""
    return USERINFO.sub(r"\1***@", text)


def userinfo_secrets(url):
    """The secret of the userinfo of `url`: its password, or the user when there is no
    password (a token as user name); the modules hide these from every output."""
    match = USERINFO.match(url or "")
    if not match:
        return []
    userinfo = match.group(0)[len(match.group(1)):-1]
    user, _colon, password = userinfo.partition(":")
    return [password or user] if password or user else []
