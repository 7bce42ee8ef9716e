"""Run by awxkit's own Python (make awxkit): an import file as awxkit's import reads it,
without a server (`awx import` itself asks the server for every endpoint's fields first).

Every resource must be one that `awx import` imports, and every natural key, an asset's own
and each reference to another object, must name exactly the fields that awxkit's page class
of its type is keyed by: awxkit finds the objects an import refers to by them.

    python tests/unit/awx/awxkit_keys.py awx/import.json

Prints each problem and exits 1 when there is one.
"""

import json
import sys
import warnings

with warnings.catch_warnings():
    # awxkit 24.6.1 imports pkg_resources (hence setuptools<81), which warns.
    warnings.simplefilter("ignore")
    from awxkit.api.pages import api, page
    from awxkit.api.resources import resources


def key_fields(kind):
    """The fields awxkit keys objects of this type by, or None for a type that is no object's."""
    pattern = getattr(resources, kind, None)
    if not isinstance(pattern, str):
        return None
    return getattr(page.get_registered_page(pattern.replace(r"\d+", "1")), "NATURAL_KEY", None)


def problems_in(node, where):
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from problems_in(item, f"{where}[{index}]")
    elif isinstance(node, dict):
        fields = key_fields(node["type"]) if isinstance(node.get("type"), str) else None
        if fields is not None and set(node) - {"type"} != set(fields):
            yield f"{where}: a {node['type']} is keyed by {sorted(fields)}, not {sorted(set(node) - {'type'})}"
        for key, value in node.items():
            yield from problems_in(value, f"{where}.{key}")


def main(path):
    with open(path, encoding="utf-8") as handle:
        assets = json.load(handle)
    problems = [f"{resource}: not a resource awx import imports" for resource in assets if resource not in api.EXPORTABLE_RESOURCES]
    problems += [f"{resource}[{index}]: no natural_key" for resource, items in assets.items()
                 for index, item in enumerate(items) if "natural_key" not in item]
    problems += list(problems_in(assets, "import"))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
