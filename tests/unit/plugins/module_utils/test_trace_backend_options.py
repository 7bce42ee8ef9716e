"""The backend options are documented once (doc_fragments/trace_backend) and declared once
(BACKEND_ARGUMENT_SPEC): the two say the same, as ansible-test's validate-modules demands."""
import yaml

from ansible_collections.tracegate.bluegreen.plugins.doc_fragments.trace_backend import ModuleDocFragment
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.backends import BACKEND_ARGUMENT_SPEC


def compared(options):
    return {name: {"type": option.get("type", "str"), "default": option.get("default"),
                   "choices": option.get("choices"), "required": option.get("required", False),
                   "suboptions": compared(option.get("suboptions", option.get("options")) or {})}
            for name, option in options.items()}


def test_documented_options_are_the_declared_ones():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert compared(documented) == compared(BACKEND_ARGUMENT_SPEC)
