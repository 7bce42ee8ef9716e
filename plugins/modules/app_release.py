#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: app_release
short_description: Install one release of a Python service and point the current link at it, in one step
version_added: 0.1.0
description:
  - Checks the artifact's SHA-256 on the host, reads its C(VERSION) before anything is
    written, unpacks it into O(release_dir), builds the release's virtualenv with its
    C(requirements.txt), and only then moves O(link) to it in one rename; older releases
    beyond O(keep) are removed (never the new one nor the one the link left).
  - The module touches only directories it made. It creates O(release_dir) and writes its
    marker (C(.app_release)) into it first; an existing O(release_dir) without the marker is
    refused (nothing is changed), and O(keep) counts and removes only directories with the
    marker, so anything else beside the releases stays as it is.
  - A release directory is complete when its stamp (C(.venv/.requirements-installed)) exists;
    a complete release is never touched again, an incomplete one (an interrupted install) is
    built again from scratch and is never linked.
  - With O(share_virtualenv), releases whose install would be the same share one virtualenv,
    built once in C(.virtualenvs/<sha256>) beside the releases and linked as each one's
    C(.venv). The SHA-256 covers the interpreter (its real path), the pip that installs,
    O(pip_args), C(requirements.txt) and every file of the C(--find-links) directories in the
    release, so a release with only new application code (the usual case) starts without a
    pip install. It is shared only when that is all pip reads, that is when O(pip_args) hold
    C(--no-index), their C(--find-links) lie in the release (C({release_dir}/...)), their
    other options are among C(--no-deps), C(--require-hashes), C(--only-binary=:all:) and
    C(--prefer-binary), and every line of C(requirements.txt) names a package (no path, URL,
    C(name @ url) or C(-r)); otherwise the release builds its own C(.venv) as without the
    option. A shared virtualenv no remaining release links to is removed with the releases
    beyond O(keep).
  - The artifact is a C(.tar.gz) with one top directory holding C(VERSION) (UTF-8 text),
    C(requirements.txt) and what the requirements need; a member that is a link, a special
    file, an absolute path, a path with C(..), or one where the module writes itself (C(.venv),
    C(.app_release)) refuses the artifact before anything is unpacked.
  - With O(src), the artifact is taken from the controller when the host does not hold it yet,
    or holds another file under its name. The controller's copy is checked against O(sha256)
    before anything is sent, and the host's copy again before it is moved into place. A host
    that already holds it receives nothing.
  - Does not restart the service; the
    R(tracegate.bluegreen.app_env role,ansible_collections.tracegate.bluegreen.app_env_role) does, when the
    module reports C(changed).
author: tracegate.bluegreen developers (@tracegate)
attributes:
  action:
    support: full
    description: An action checks O(src) on the controller and sends it only when the host needs it. The module runs on the host.
  check_mode:
    support: full
    description: Checks the artifact and its VERSION, and reports whether the release would be built and linked.
  diff_mode:
    support: full
    description: The link's target before and after.
  idempotent:
    support: full
    description: A complete release the link already points at changes nothing.
options:
  artifact:
    description: The release artifact on the host (its directory is created when missing).
    type: path
    required: true
  src:
    description:
      - The artifact on the controller, sent to O(artifact) when the host does not hold it with
        O(sha256) already. Without it, O(artifact) must already be on the host.
    type: path
  sha256:
    description: The artifact's expected SHA-256 (64 lowercase hex digits).
    type: str
    required: true
  version:
    description: The version the artifact's C(VERSION) file must hold.
    type: str
    required: true
  release_dir:
    description:
      - The release's own directory (its parent is created when missing). Made by the module;
        an existing directory it did not make is refused.
    type: path
    required: true
  link:
    description: The link the service runs from, moved to O(release_dir) once it is complete.
    type: path
    required: true
  virtualenv:
    description:
      - Build a virtualenv from the release's C(requirements.txt) (a Python release). V(false)
        for a release that runs as it is unpacked (a binary or a start command).
    type: bool
    default: true
  python:
    description: The interpreter that creates the virtualenv.
    type: path
    default: /usr/bin/python3
  pip_args:
    description:
      - Arguments of C(pip install) before C(-r requirements.txt), for example
        C([--no-index, --find-links, "{release_dir}/wheels"]); C({release_dir}) is replaced.
    type: list
    elements: str
    default: []
  keep:
    description:
      - Releases kept in the parent of O(release_dir), counting the new one. Only directories
        the module made count and are removed.
    type: int
    default: 3
  share_virtualenv:
    description:
      - Share one virtualenv between releases whose install would be the same (see the
        description); V(false) builds every release's own.
    type: bool
    default: true
seealso:
  - module: tracegate.bluegreen.cutover_state
"""

EXAMPLES = r"""
- name: Install checkout 1.4.2 from the wheels it carries, sent from the controller when missing
  tracegate.bluegreen.app_release:
    src: dist/checkout-1.4.2.tar.gz
    artifact: /opt/checkout/artifacts/checkout-1.4.2.tar.gz
    sha256: "{{ release.sha256 }}"
    version: 1.4.2
    release_dir: /opt/checkout/releases/1.4.2-{{ release.sha256[:12] }}
    link: /opt/checkout/current
    pip_args: [--no-index, --find-links, "{release_dir}/wheels"]
  register: installed
"""

RETURN = r"""
artifact_copied:
  description: Whether the artifact was (or in check mode would be) sent from the controller.
  returned: always
  type: bool
built:
  description: Whether the release was (or in check mode would be) unpacked and its virtualenv built.
  returned: always
  type: bool
virtualenv_reused:
  description:
    - Whether the release linked a shared virtualenv an earlier release had built, so that no
      pip install ran (O(share_virtualenv)). Always V(false) in check mode, which unpacks nothing.
  returned: always
  type: bool
linked:
  description: Whether the link was (or would be) moved to the release.
  returned: always
  type: bool
previous_release:
  description: Where the link pointed before the call; null when it did not exist.
  returned: always
  type: str
removed:
  description:
    - Older release directories (made by the module) removed (or that would be), and the shared
      virtualenvs that no remaining release links to.
  returned: always
  type: list
  elements: str
"""

import os
import re
import shutil

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tracegate.bluegreen.plugins.module_utils import app_release


def main():
    module = AnsibleModule(
        argument_spec={
            "artifact": {"type": "path", "required": True},
            "src": {"type": "path"},
            "sha256": {"type": "str", "required": True},
            "version": {"type": "str", "required": True},
            "release_dir": {"type": "path", "required": True},
            "link": {"type": "path", "required": True},
            "virtualenv": {"type": "bool", "default": True},
            "python": {"type": "path", "default": "/usr/bin/python3"},
            "pip_args": {"type": "list", "elements": "str", "default": []},
            "keep": {"type": "int", "default": 3},
            "share_virtualenv": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    if not re.fullmatch(r"[0-9a-f]{64}", p["sha256"]):
        module.fail_json(msg=f"sha256: {p['sha256']!r} is not 64 lowercase hex digits")
    if p["keep"] < 1:
        module.fail_json(msg=f"keep: at least the new release is kept, got {p['keep']}")
    release_dir = p["release_dir"].rstrip("/")
    previous = app_release.link_target(p["link"])
    built = not app_release.is_complete(release_dir, p["virtualenv"])
    linked = previous != release_dir
    if built and os.path.lexists(release_dir) and not app_release.is_release(release_dir):
        module.fail_json(msg=f"release_dir: {release_dir} exists but was not made by app_release (it has no "
                             f"{app_release.MARKER}), so it is not replaced; remove it or choose another release_dir; "
                             f"nothing was changed")
    held = app_release.holds(p["artifact"], p["sha256"])
    if not held and not p["src"]:
        if module.check_mode and not os.path.exists(p["artifact"]):
            # A check-mode run sends nothing, so the artifact is not on the host yet.
            # artifact_missing and release_dir let the action plugin (src) predict the rest.
            module.exit_json(changed=True, artifact_copied=True, built=built, linked=linked, previous_release=previous,
                             removed=[], msg=f"{p['artifact']} is not on the host yet; it would be checked and installed",
                             artifact_missing=True, release_dir=release_dir)
        state = "is missing" if not os.path.exists(p["artifact"]) else "does not have the requested sha256"
        # artifact_missing tells the action plugin to send src and call again.
        # With what check mode needs to predict the rest without the artifact.
        module.fail_json(msg=f"artifact: {p['artifact']} {state}; nothing was changed", artifact_missing=True,
                         built=built, linked=linked, previous_release=previous, release_dir=release_dir)
    try:
        # A held artifact's checksum was just read by holds(); src's is read here.
        if held:
            app_release.check_version(p["artifact"], p["version"])
        else:
            app_release.check_artifact(p["src"], p["sha256"], p["version"], "src")
    except (app_release.ReleaseError, OSError) as exc:
        module.fail_json(msg=f"{exc}; nothing was changed")

    try:
        if not held and not module.check_mode:
            os.makedirs(os.path.dirname(p["artifact"]), mode=0o755, exist_ok=True)
            shutil.copyfile(p["src"], f"{p['artifact']}.part")
            os.chmod(f"{p['artifact']}.part", 0o644)
            os.replace(f"{p['artifact']}.part", p["artifact"])
    except OSError as exc:
        module.fail_json(msg=f"artifact: placing {p['artifact']} failed: {exc}; the link still points at {previous}")
    releases_dir = os.path.dirname(release_dir)
    removed = []
    reused = False
    try:
        if built and not module.check_mode:
            if os.path.lexists(release_dir):
                shutil.rmtree(release_dir)
            os.makedirs(releases_dir, mode=0o755, exist_ok=True)
            app_release.unpack(p["artifact"], release_dir)
            if p["virtualenv"]:
                reused = app_release.build(release_dir, p["python"], p["pip_args"], module.run_command,
                                           pip_wheel=app_release.bundled_pip_wheel(), share=p["share_virtualenv"])
            else:
                app_release.finish_unpacked(release_dir)
        if linked and not module.check_mode:
            app_release.point_link(p["link"], release_dir)
    except (app_release.ReleaseError, *app_release.ARCHIVE_ERRORS) as exc:
        module.fail_json(msg=f"{exc}; the link still points at {previous}")
    except OSError as exc:
        module.fail_json(msg=f"installing {release_dir} failed: {exc}; the link still points at {previous}")
    try:
        if os.path.isdir(releases_dir):
            stale = app_release.stale_releases(releases_dir, p["keep"], {release_dir, previous})
            # In check mode the stale releases stay, so the virtualenvs only they link to are
            # named as they would be once those are gone.
            unused = app_release.unused_virtualenvs(releases_dir, leaving=stale)
            removed = stale + unused
            if not module.check_mode:
                for path in removed:
                    shutil.rmtree(path)
    except OSError as exc:
        module.fail_json(msg=f"{p['link']} points at {release_dir}, but removing older releases failed: {exc}")
    result = {"changed": built or linked or bool(removed) or not held, "artifact_copied": not held,
              "built": built, "virtualenv_reused": reused, "linked": linked,
              "previous_release": previous, "removed": removed}
    if module._diff:
        result["diff"] = {"before": f"{p['link']} -> {previous}\n", "after": f"{p['link']} -> {release_dir}\n"}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
