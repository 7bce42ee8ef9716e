# tracegate.bluegreen: every target installs what it needs and is safe to run twice.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
# ansible-core 2.21 needs Python >= 3.12; the machine's default python3 is older.
PYTHON312 ?= $(firstword $(wildcard /root/.pyenv/versions/3.12.*/bin/python3) $(shell command -v python3.12 2>/dev/null))
VENV := $(ROOT)/.venv
VENV_STAMP := $(VENV)/.installed-$(shell cat requirements/dev.txt 2>/dev/null | sha256sum | cut -c1-12)
# Java 17 and Maven: the real Zipkin server and jshop, the lab's Java service; PostgreSQL: the migration gate's tests.
APT_PACKAGES := podman runc debootstrap wrk rsync shellcheck haproxy nginx socat prometheus stress-ng openjdk-17-jdk-headless maven postgresql
APT_STAMP := $(ROOT)/.cache/apt-host-$(shell echo $(APT_PACKAGES) | sha256sum | cut -c1-12).stamp
# The older ansible-core minor versions meta/runtime.yml supports, each with a controller Python
# it supports (2.16 to 2.19 run on 3.11, AAP 2.5's EEs' Python; 2.20 needs 3.12). The newest,
# 2.21, is the main venv's. Each gets a venv of its own from requirements/core-<version>.txt.
CORE_MATRIX := 2.16:3.11 2.17:3.11 2.18:3.11 2.19:3.11 2.20:3.12
CORE_VENVS := $(ROOT)/.cache/core
# awxkit, what `awx import` runs, in a venv of its own: tests/unit/awx checks awx/import.json against it.
AWXKIT_VENV := $(ROOT)/.cache/awxkit
AWXKIT_STAMP := $(AWXKIT_VENV)/.installed-$(shell cat requirements/awxkit.txt 2>/dev/null | sha256sum | cut -c1-12)
# ansible-builder and ansible-runner in a venv of their own: make ee builds the execution
# environment (execution-environment.yml) and runs a playbook in it as AWX does.
EE_TOOLS := $(ROOT)/.cache/ee-tools
EE_TOOLS_STAMP := $(EE_TOOLS)/.installed-$(shell cat requirements/ee-tools.txt 2>/dev/null | sha256sum | cut -c1-12)
# Sphinx, myst-parser and antsibull-docs in a venv of their own: make docs builds the site.
DOCS_VENV := $(ROOT)/.cache/docs
DOCS_STAMP := $(DOCS_VENV)/.installed-$(shell cat requirements/docs.txt 2>/dev/null | sha256sum | cut -c1-12)
DOCS_BUILD := $(ROOT)/.build/docs
OLDEST_CORE := $(firstword $(subst :, ,$(firstword $(CORE_MATRIX))))
COLLECTIONS := $(ROOT)/.collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/tracegate/bluegreen

export PATH := $(VENV)/bin:$(PATH)
export CONTAINERS_CONF := $(ROOT)/tests/lab/podman/containers.conf
# Our collection through a link to this checkout; the dependency collections come from the
# `ansible` bundle in the venv's site-packages, which ansible-core scans as well.
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg

.PHONY: help demo test bench bench-switch bench-judge bench-judge-lab bench-audit bench-cutover bench-gates lint sanity units integration molecule lab-up lab-down \
        docs checks collection-install-check ee ee-image matrix core-venvs awxkit venv host-packages collection artifact lab-image trace-backends clean

help:
	@echo "make demo      bring the lab up and run four cutovers under live load (healthy, faulty, untraced, vulnerable)"
	@echo "make test      everything CI checks (lint, the docs site, sanity, the ansible-core matrix, the execution environment, molecule, unit and integration tests)"
	@echo "make bench     run the benchmarks (bench-switch, bench-judge, bench-audit, bench-cutover)"
	@echo "make bench-gates  the gates before traffic: drift on 50 simulated hosts, all gates in the lab"
	@echo "make bench-judge-lab  40 real cutovers in the lab beside a CPU load: false rollbacks, faults stopped (about 40 min)"
	@echo "make docs      the documentation site in .build/docs/html: the pages of docs/ and the reference antsibull-docs generates, warnings as errors"
	@echo "other targets: checks (everything but the lab) lint sanity collection-install-check ee matrix units integration molecule lab-up lab-down awxkit clean"

# --- installation ---------------------------------------------------------------------------

$(VENV_STAMP): requirements/dev.txt
	@test -n "$(PYTHON312)" || { echo "Python 3.12 not found: set PYTHON312=/path/to/python3.12"; exit 1; }
	test -x $(VENV)/bin/python || $(PYTHON312) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements/dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(VENV_STAMP)

# .cache/core/<version>/.installed-<hash>: one venv per older ansible-core, rebuilt when its pins change,
# without a pip of its own (as tool_venv below): nothing runs pip in it, ansible-test builds its
# sanity virtualenvs with the interpreter's own venv module.
core-venvs: collection
	@for spec in $(CORE_MATRIX); do \
	  core=$${spec%%:*}; python=$${spec##*:}; venv=$(CORE_VENVS)/$$core; \
	  stamp=$$venv/.installed-$$(sha256sum < requirements/core-$$core.txt | cut -c1-12); \
	  [ -e $$stamp ] && continue; \
	  interpreter=$$(ls -d /root/.pyenv/versions/$$python.*/bin/python3 2>/dev/null | head -1); \
	  [ -n "$$interpreter" ] || interpreter=$$(command -v python$$python) || { echo "Python $$python not found for ansible-core $$core"; exit 1; }; \
	  rm -rf $$venv && $$interpreter -m venv --without-pip $$venv; \
	  $(VENV)/bin/python -m pip --python $$venv/bin/python install --quiet -r requirements/core-$$core.txt; \
	  touch $$stamp; \
	done

# $(call tool_venv,DIR,REQUIREMENTS): a venv of one tool without a pip of its own (ensurepip
# takes longer than the install): the main venv's pip fills it.
define tool_venv
rm -rf $(1) && $(PYTHON312) -m venv --without-pip $(1)
$(VENV)/bin/python -m pip --python $(1)/bin/python install --quiet -r $(2)
endef

$(AWXKIT_STAMP): requirements/awxkit.txt $(VENV_STAMP)
	$(call tool_venv,$(AWXKIT_VENV),requirements/awxkit.txt)
	touch $@

awxkit: $(AWXKIT_STAMP)

$(EE_TOOLS_STAMP): requirements/ee-tools.txt $(VENV_STAMP)
	$(call tool_venv,$(EE_TOOLS),requirements/ee-tools.txt)
	touch $@

$(DOCS_STAMP): requirements/docs.txt $(VENV_STAMP)
	$(call tool_venv,$(DOCS_VENV),requirements/docs.txt)
	touch $@

$(APT_STAMP):
	@# "install ok installed" only: a removed package whose config files remain is not installed.
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing host packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# The tests run their own HAProxy, NGINX and Prometheus on loopback ports; the packages' services are not needed.
	-@for service in haproxy nginx prometheus; do service $$service stop >/dev/null 2>&1; done
	mkdir -p $(dir $@) && touch $@

host-packages: $(APT_STAMP)

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(ROOT) $@

collection: venv $(COLLECTION_LINK)

lab-image: host-packages
	tests/lab/image.sh

# The real Jaeger and the lab's OpenTelemetry Collector (built from the Go module proxy) and
# Zipkin (from Maven Central), each kept in a per-machine cache: built or fetched once, then
# reused by every checkout.
trace-backends: host-packages
	tests/lab/jaeger/build.sh >/dev/null
	tests/lab/otelcol/build.sh >/dev/null
	tests/lab/zipkin/fetch.sh >/dev/null

# --- the lab and the demo -------------------------------------------------------------------

lab-up: collection lab-image trace-backends
	tests/lab/lab.sh up

lab-down: host-packages
	tests/lab/lab.sh down

demo: lab-up
	tests/lab/demo.sh

# --- checks ---------------------------------------------------------------------------------

lint: collection
	ansible-lint --profile production

sanity: collection host-packages
	tests/sanity/run.sh
	@# Modules and module_utils run on the hosts' Pythons: compiled and imported there too
	@# (3.11, Debian 12's; 3.9, the oldest the collection supports on hosts).
	for version in 3.11 3.9; do SANITY_PYTHON=$$version tests/sanity/run.sh --test compile --test import; done

# CASES_CORE_<scenario>=<venv, absolute> (e.g. CASES_CORE_cutover=$PWD/.cache/core/2.16) runs that
# scenario's cases' playbooks on that ansible-core (tests/lab/cases_core.py); by default they
# run on the newest. make test runs the cutover scenario's cases on the oldest (2.16, also a
# tenth faster there than on 2.21, measured) and any_service's on the newest, so that both ends
# of the range cut over real hosts under load; the AWX workflow case runs in the execution
# environment (2.16) either way, and every converge is molecule's, on the newest.
# Each scenario runs whatever the other's outcome (molecule test --all stops at the first failure).
# Run from the collection's root, molecule finds the scenarios under extensions/molecule and
# their shared base, extensions/molecule/config.yml.
MOLECULE_SCENARIOS := any_service cutover
CASES_CORE_any_service ?=
CASES_CORE_cutover ?=
molecule: collection core-venvs lab-image trace-backends ee-image
	@failed=""; \
	$(foreach scenario,$(MOLECULE_SCENARIOS),BLUEGREEN_CASES_CORE=$(CASES_CORE_$(scenario)) molecule test -s $(scenario) || failed="$$failed $(scenario)"; ) \
	if [ -n "$$failed" ]; then echo "molecule scenarios failed:$$failed"; exit 1; fi

units: collection awxkit
	pytest tests/unit

# The documentation site, built whole every time (an incremental Sphinx build reports the
# warnings of the pages it reads again only): the reference antsibull-docs generates from the
# installed collection (ansible-doc of the main venv), beside a copy of docs/, in
# .build/docs/src; Sphinx with every warning an error, all of them reported (--keep-going).
# Warnings name the copy: .build/docs/src/<page> is docs/<page>, src/reference/ the plugins'
# DOCUMENTATION and the roles' meta/argument_specs.yml.
docs: collection $(DOCS_STAMP)
	rm -rf $(DOCS_BUILD) && mkdir -p $(DOCS_BUILD)/src/reference
	@# antsibull-docs writes only into a directory that no one else may write to.
	chmod go-w $(DOCS_BUILD)/src/reference
	$(DOCS_VENV)/bin/antsibull-docs collection --use-current --squash-hierarchy --fail-on-error \
	  --cleanup everything --dest-dir $(DOCS_BUILD)/src/reference tracegate.bluegreen
	cp -a docs/. $(DOCS_BUILD)/src/
	$(DOCS_VENV)/bin/sphinx-build -W --keep-going -n -q -b html -c docs -d $(DOCS_BUILD)/doctrees \
	  $(DOCS_BUILD)/src $(DOCS_BUILD)/html
	@echo "make docs: the site is $(DOCS_BUILD)/html/index.html"

# The tarball Galaxy would ship, installed into an empty collections path: ansible-doc of the
# newest and of the oldest supported ansible-core lists every module, callback, filter and role.
collection-install-check: core-venvs
	python3 tests/collection/install_check.py $(VENV)/bin $(CORE_VENVS)/$(OLDEST_CORE)/bin

# The execution environment: its base and its image built with podman when an input changed
# (ee/build.sh), then tests/ee/smoke.py runs a playbook in it through ansible-runner as AWX
# runs a job. The lab scenarios need the image only.
ee-image: collection lab-image $(EE_TOOLS_STAMP)
	ee/build.sh $(EE_TOOLS)/bin/ansible-builder >/dev/null

ee: ee-image
	$(EE_TOOLS)/bin/python tests/ee/smoke.py

# The unit tests and ansible-test sanity under every older supported ansible-core (the newest
# is `units` and `sanity`). The oldest runs every unit test (on Python 3.11, as `units` does on
# 3.12); the cores between run those that exercise ansible-core (marked by tests/unit/conftest.py:
# 27 of 1073 when written, the rest never import it and so run the same whatever core is installed; the
# whole suite took about 65 CPU-seconds per core). Sanity there checks what a user of that
# core installs (the tarball's files, SANITY_SHIPPED) with every test but those that run linters whose rules do
# not come from ansible-core: pycodestyle (pep8), yamllint and antsibull-changelog, which
# `sanity` runs on the newest core's pins. Each skipped test is a virtualenv less per core
# that ansible-test would build on a new machine (measured: building a core's nine took
# about 155 CPU-seconds, running its sanity 78).
MATRIX_SANITY_SKIP := pep8 yamllint changelog
matrix: core-venvs
	@for spec in $(CORE_MATRIX); do \
	  core=$${spec%%:*}; venv=$(CORE_VENVS)/$$core; \
	  if [ $$core = $(OLDEST_CORE) ]; then selection="-n 2"; else selection="-m ansible_core"; fi; \
	  echo "== ansible-core $$core: units $$selection"; \
	  PATH=$$venv/bin:$$PATH $$venv/bin/python -m pytest -q -p no:cacheprovider $$selection tests/unit; \
	  echo "== ansible-core $$core: sanity"; \
	  PATH=$$venv/bin:$$PATH SANITY_PYTHON=$${spec##*:} SANITY_SHIPPED=1 tests/sanity/run.sh \
	    $(foreach test,$(MATRIX_SANITY_SKIP),--skip-test $(test)); \
	done

integration: collection host-packages trace-backends
	pytest -n 2 --dist loadfile tests/integration

# Everything but the lab scenarios, one after the other.
checks: lint docs sanity collection-install-check ee matrix awxkit host-packages trace-backends
	pytest -n 2 --dist loadfile tests/unit tests/integration

# make test in two stages, each line of .build/stages.log its name, outcome and seconds (the
# report ends with the CPU the whole machine spent meanwhile, from /proc/stat: with two cores,
# the CPU-minutes over two are the least wall time any ordering of the work could reach; each
# stage's own CPU-seconds are those of the processes it started and waited for, so the lab
# containers' own CPU, under podman's conmon, is in the machine's total only):
# 1. what the lab needs, side by side (make -j3): the installs (downloads and disk) beside the
#    Go builds (Jaeger's, about 10 minutes on a new machine, is the longest), the lab image and
#    the execution environment; a failure here stops before the lab;
# 2. the lab scenarios, and beside them, niced and one after the other, the checks that need
#    no lab: lint, the docs site, sanity, the tarball check, the unit tests, the integration
#    tests (real servers on loopback) and the matrix. The lab's cases leave about a third of
#    the two cores idle (waits on bakes, SSH and answers; measured 68 % busy during the
#    cutover cases), which the checks take, while before the lab they took the cores from the
#    Jaeger build that the lab waits for. What failed is listed at the end, with the
#    scenarios' failures and the time of every stage.
BEFORE_THE_LAB := core-venvs awxkit collection host-packages lab-image trace-backends ee
BESIDE_THE_LAB := lint docs sanity collection-install-check units integration matrix
test:
	@mkdir -p .build && : > .build/stages.log; begun=$$SECONDS; \
	cpu_ticks() { awk '/^cpu / { print $$2 + $$3 + $$4 + $$7 + $$8, $$9 }' /proc/stat; }; \
	read -r busy_begun steal_begun <<< "$$(cpu_ticks)"; \
	stage() { local name=$$1 started=$$SECONDS outcome=ok; shift; \
	  echo "== make test: $$name, from minute $$(( (started - begun) / 60 ))"; \
	  ( "$$@"; status=$$?; times > .build/cpu-$$name; exit $$status ) || outcome=FAILED; \
	  printf '%-24s %-7s %5d s %6d CPU-s\n' "$$name" "$$outcome" $$((SECONDS - started)) \
	    "$$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($$i, t, /[ms]/); cpu += t[1] * 60 + t[2] } } END { printf "%d", cpu }' .build/cpu-$$name)" \
	    >> .build/stages.log; \
	  [ $$outcome = ok ]; }; \
	failed() { awk '$$2 == "FAILED" { printf " %s", $$1 }' .build/stages.log; }; \
	report() { echo "make test stages (.build/stages.log):"; cat .build/stages.log; \
	  read -r busy steal <<< "$$(cpu_ticks)"; hz=$$(getconf CLK_TCK); \
	  echo "make test: $$(( (SECONDS - begun) / 60 )) min in all; the machine's CPU busy" \
	    "$$(( (busy - busy_begun) / hz / 60 )) CPU-min of $$(( $$(nproc) * (SECONDS - begun) / 60 )) on $$(nproc) cores," \
	    "$$(( (steal - steal_begun) / hz / 60 )) CPU-min stolen by the hypervisor"; }; \
	stage before-the-lab $(MAKE) --no-print-directory -j3 --output-sync=target $(BEFORE_THE_LAB) || true; \
	if [ -n "$$(failed)" ]; then report; echo "make test failed:$$(failed) (the lab did not run)"; exit 1; fi; \
	( for check in $(BESIDE_THE_LAB); do stage $$check nice -n 10 $(MAKE) --no-print-directory $$check || true; done \
	  > .build/beside-the-lab.log 2>&1 ) & beside=$$!; \
	stage molecule bash -o pipefail -c '$(MAKE) --no-print-directory molecule CASES_CORE_cutover=$(CORE_VENVS)/$(OLDEST_CORE) 2>&1 | tee .build/molecule.log' || true; \
	wait $$beside; \
	echo "== the checks beside the lab (.build/beside-the-lab.log):"; cat .build/beside-the-lab.log; \
	case "$$(failed)" in *molecule*) \
	  echo "the lab scenarios' failures (all of their output in .build/molecule.log):"; \
	  sed 's/\x1b\[[0-9;]*m//g' .build/molecule.log \
	    | grep -E 'molecule scenarios failed|(FAILED|ERROR)( |$$)| E  +[A-Za-z]|fatal: \[|failed=[1-9]' | tail -80 || true;; \
	esac; \
	report; \
	if [ -n "$$(failed)" ]; then echo "make test failed:$$(failed)"; exit 1; fi

bench: bench-switch bench-judge bench-audit bench-cutover

# P3 (fault to rollback) and P5 (cutover overhead) on the lab under load, over the podman
# connection; then P5 over SSH on the molecule cutover scenario's lab, converged for it in an
# ephemeral directory of its own and destroyed after it (one lab at a time: make lab-up's is
# down meanwhile and up again at the end). Every part runs whatever the others' outcome.
BENCH_SSH_LAB := $(ROOT)/.build/bench-ssh-lab
bench-cutover: collection host-packages lab-up
	@mkdir -p $(ROOT)/.build; status=0; \
	python3 benchmarks/bench_cutover.py || status=1; \
	tests/lab/lab.sh down || status=1; \
	export MOLECULE_EPHEMERAL_DIRECTORY=$(BENCH_SSH_LAB); \
	if molecule converge -s cutover > $(ROOT)/.build/bench-ssh-lab.log 2>&1; then \
	  python3 benchmarks/bench_cutover.py --only p5 --inventory $(BENCH_SSH_LAB)/inventory/ansible_inventory.yml || status=1; \
	else \
	  echo "the SSH lab (molecule converge -s cutover) did not come up: .build/bench-ssh-lab.log"; status=1; \
	fi; \
	molecule destroy -s cutover >> $(ROOT)/.build/bench-ssh-lab.log 2>&1 || status=1; \
	tests/lab/lab.sh up || status=1; \
	exit $$status

# Verification of a 100,000-record audit log, and an append after a 10 MiB record.
bench-audit: collection
	python3 benchmarks/bench_audit.py

# The gates before traffic: drift on 2, 10 and 50 simulated hosts, then the five gates in the lab.
bench-gates: collection host-packages lab-up
	python3 benchmarks/bench_gates.py --lab

# Real cutovers of an identical and of faulty releases in the lab beside a bounded CPU load:
# false rollbacks, faulty releases stopped, time to roll back (not part of `bench`: ~40 min).
bench-judge-lab: collection host-packages lab-up
	python3 benchmarks/bench_judge_lab.py

# P4 (analysis of 100,000 spans answered by the real Jaeger vs json.loads), P6 (false-fail and detection rates of
# one look) and P7 (of the looks of a watch, old spending rule vs new).
bench-judge: collection trace-backends
	python3 benchmarks/bench_judge.py

# P1 (haproxy_backend vs community.general.haproxy) on loopback, P2 (zero dropped requests
# under load) through the lab's load balancers.
bench-switch: collection host-packages lab-up
	python3 benchmarks/bench_switch.py


clean: lab-down
	rm -rf $(VENV) $(COLLECTIONS) .build .cache .lab
