#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: config_files
short_description: Write a service's configuration files on a host as one change
version_added: 0.1.0
description:
  - Compares each file of O(files) (content, owner, group, mode) with what the host holds and
    replaces only those that differ; each is staged beside its destination with its owner and
    mode, and the renames happen only once every staged copy is written.
  - Directories of O(directories) are created or corrected first.
  - Every entry is checked before anything is written (a relative path, a path with C(..) or a
    control character, an unknown owner or group, a mode that is not octal, a file whose
    directory is missing, a path named twice), and the task fails naming the field. A failure
    while staging (a full disk), or a staged copy that its O(files[].validate) command
    refuses, removes the staged copies and takes back the directories' changes. Either way
    the host is left as it was.
  - Only what is asked for is touched; an existing directory keeps the mode, owner and group
    that are not given.
  - One call on the host for a service's whole configuration (the roles render their
    templates with the P(ansible.builtin.template#lookup) lookup), where one
    M(ansible.builtin.template) task per file takes several.
  - Replaced files get the default SELinux context of their path when SELinux is enabled.
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Reports what would change; writes nothing.
  diff_mode:
    support: full
    description: The content of every file that changes, before and after.
  idempotent:
    support: full
    description: Files and directories that already match are left alone.
options:
  files:
    description: The files to write.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the file; its directory must exist or be in O(directories).
        type: path
        required: true
      content:
        description: The file's whole content.
        type: str
        required: true
      owner:
        description: Owner (name or uid); unset keeps the current owner, or root for a new file.
        type: str
      group:
        description: Group (name or gid); unset keeps the current group.
        type: str
      mode:
        description:
          - Octal mode as a string, for example C('0640').
          - A number is taken as the mode it is, as M(ansible.builtin.file) takes it, with a
            warning; an unquoted YAML C(0644) is the number 420, that is mode C(0644), but an
            unquoted C(644) is mode C(01204).
        type: raw
        default: '0644'
      validate:
        description:
          - A command that checks the file before it is written, naming it as C(%s) (for
            example C(nginx -t -c %s) or C(otelcol validate --config=%s)); run without a shell,
            on the staged copy (with its owner and mode), whenever the file changes. A non-zero
            exit fails the task with the first line the command wrote, and nothing of the
            call is written.
        type: str
  directories:
    description: Directories to create or correct before the files are written.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the directory; missing parents are created with mode 0755.
        type: path
        required: true
      owner:
        description: Owner (name or uid); unset keeps the current owner, or root for a new directory.
        type: str
      group:
        description: Group (name or gid); unset keeps the current group.
        type: str
      mode:
        description:
          - Octal mode as a string, for example C('0750'); a number as for the files' O(files[].mode).
          - Unset, an existing directory keeps its mode and a new one gets C(0755).
        type: raw
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Render the service's environment and unit in one step
  tracegate.bluegreen.config_files:
    files:
      - path: /etc/checkout/app.env
        content: "{{ lookup('ansible.builtin.template', 'app.env.j2') }}"
        owner: root
        group: checkout
        mode: "0640"
      - path: /etc/systemd/system/checkout.service
        content: "{{ lookup('ansible.builtin.template', 'app.service.j2') }}"
  register: checkout_config

- name: Reload systemd only when the unit changed
  ansible.builtin.systemd_service:
    daemon_reload: true
  when: "'/etc/systemd/system/checkout.service' in checkout_config.changed_files"
"""

RETURN = r"""
changed_files:
  description: Files that were (or in check mode would be) written or corrected.
  returned: always
  type: list
  elements: str
changed_directories:
  description: Directories that were (or would be) created or corrected.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tracegate.bluegreen.plugins.module_utils import config_files

# Modes are raw: an unquoted YAML mode arrives as an int, which a str option would turn into
# its decimal digits (0644 into '420', read as mode 0420).
FILE_OPTIONS = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str", "required": True},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "mode": {"type": "raw", "default": "0644"},
    "validate": {"type": "str"},
}
DIRECTORY_OPTIONS = {
    "path": {"type": "path", "required": True},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "mode": {"type": "raw"},
}


def main():
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "required": True, "options": FILE_OPTIONS},
            "directories": {"type": "list", "elements": "dict", "default": [], "options": DIRECTORY_OPTIONS},
        },
        supports_check_mode=True,
    )
    try:
        plan = config_files.plan(module.params["directories"], module.params["files"])
    except config_files.ConfigError as exc:
        module.fail_json(msg=f"{exc}; nothing was changed")
    for warning in plan.warnings:
        module.warn(warning)
    changed_directories, changed_files = plan.changed_directories, plan.changed_files
    if not module.check_mode:
        try:
            config_files.apply(plan.directories, plan.files, module.run_command)
        except config_files.PartlyWrittenError as exc:
            module.fail_json(msg=str(exc), changed_directories=changed_directories)
        except config_files.ConfigError as exc:
            module.fail_json(msg=f"{exc}; nothing was changed")
        if module.selinux_enabled():
            for path in changed_files:
                module.set_default_selinux_context(path, False)
    result = {"changed": bool(changed_files or changed_directories), "changed_files": changed_files,
              "changed_directories": changed_directories}
    if module._diff:
        result["diff"] = [{"before_header": item.path, "after_header": item.path,
                           "before": (item.before or b"").decode("utf-8", "replace"), "after": item.content.decode("utf-8")}
                          for item in plan.files if "content" in item.differs or "missing" in item.differs]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
