"""The tracing_agent role's fingerprint, which the drift gate compares between the colors, is
the same whatever ansible-core renders it: the matrix runs this file under every supported
ansible-core, each rendering the role's own vars with its own ansible-playbook."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROLE = Path(__file__).resolve().parents[3] / "roles" / "tracing_agent"
# Numbers where YAML gives numbers, as an inventory would.
SETTINGS = {"tracing_agent_service_name": "checkout", "tracing_agent_service_version": "1.4.0",
            "tracing_agent_color": "green", "tracing_agent_otlp_endpoint": "http://collector:4318",
            "tracing_agent_export_delay_ms": 2500, "tracing_agent_sampler_arg": 0.25,
            "tracing_agent_collector_memory_limit_mib": 512, "tracing_agent_otlp_headers": {"x-tenant": "secret"}}
EXPECTED = {"service_name": "checkout", "service_version": "1.4.0", "environment": "production",
            "endpoint": "http://collector:4318", "protocol": "http/protobuf", "header_names": ["x-tenant"],
            "sampler": "parentbased_traceidratio", "sampler_arg": "0.25", "export_delay_ms": "2500",
            "collector_sha256": "", "collector_user": "", "collector_listen": "127.0.0.1:4318",
            "collector_memory_limit_mib": "512", "collector_tls": ["", "", ""],
            "redact_keys": sorted(["enduser.id", "user.email", "user.name", "http.request.header.authorization",
                                   "http.request.header.cookie", "client.address"])}


def test_the_fingerprint_input_is_strings_on_this_ansible_core(tmp_path):
    playbook = tmp_path / "render.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
        "tasks": [{"ansible.builtin.copy": {"content": "{{ _tracing_agent_fingerprint_input | to_json(sort_keys=true) }}",
                                            "dest": str(tmp_path / "rendered.json"), "mode": "0600"}}],
    }]), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    # Extra variables: above the role's defaults, which vars_files load here.
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-e", json.dumps(SETTINGS)],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rendered = (tmp_path / "rendered.json").read_text(encoding="utf-8")
    assert json.loads(rendered) == EXPECTED
    # The fact's fingerprint is the sha256 of exactly this text: the same bytes on every core.
    assert rendered == json.dumps(EXPECTED, sort_keys=True)
