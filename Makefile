# orchestrator — two commands on a fresh machine: `make run` and `make test`.
#
# The Terraform toolchain lives in .tools/ (git-ignored) and is built from the Go
# module proxy, never downloaded as a prebuilt binary. Every piece is a file target,
# so a second `make tools` only checks that the files exist.

SHELL       := /bin/bash
GO          ?= go
ROOT        := $(abspath .)
TOOLS       := $(ROOT)/.tools
BIN         := $(ROOT)/bin
GOOSARCH    := $(shell $(GO) env GOOS)_$(shell $(GO) env GOARCH)
MIRROR      := $(TOOLS)/providers
TFRC        := $(TOOLS)/terraformrc
LISTEN      ?= 127.0.0.1:8080
DATA_DIR    ?= $(ROOT)/data
# A bounded fuzz run keeps `make test` inside its time budget; minimizing new
# inputs is skipped so the budget goes to fuzzing (~19k inputs/s on 2 cores).
FUZZTIME    ?= 20s
TERRAFORM_VERSION := 1.5.7

# Provider releases and the module versions that build them (see README, "Offline toolchain").
LOCAL_VERSION     := 2.9.0
LOCAL_MODULE      := github.com/terraform-providers/terraform-provider-local@v1.4.1-0.20260513075820-3561e410f9fe
RANDOM_VERSION    := 3.9.0
RANDOM_MODULE     := github.com/terraform-providers/terraform-provider-random@v1.3.2-0.20260513075824-f8d869dc98d9
TLS_VERSION       := 4.2.1
TLS_MODULE        := github.com/hashicorp/terraform-provider-tls@v1.2.1-0.20260130152455-857b38cda3fc
OPENSTACK_VERSION := 3.4.0
OPENSTACK_MODULE  := github.com/terraform-provider-openstack/terraform-provider-openstack/v3@v3.4.0

P_LOCAL     := $(MIRROR)/registry.terraform.io/hashicorp/local/$(LOCAL_VERSION)/$(GOOSARCH)/terraform-provider-local_v$(LOCAL_VERSION)
P_RANDOM    := $(MIRROR)/registry.terraform.io/hashicorp/random/$(RANDOM_VERSION)/$(GOOSARCH)/terraform-provider-random_v$(RANDOM_VERSION)
P_TLS       := $(MIRROR)/registry.terraform.io/hashicorp/tls/$(TLS_VERSION)/$(GOOSARCH)/terraform-provider-tls_v$(TLS_VERSION)
P_OPENSTACK := $(MIRROR)/registry.terraform.io/terraform-provider-openstack/openstack/$(OPENSTACK_VERSION)/$(GOOSARCH)/terraform-provider-openstack_v$(OPENSTACK_VERSION)
PROVIDERS   := $(P_LOCAL) $(P_RANDOM) $(P_TLS) $(P_OPENSTACK)

# Terraform must not phone home, and must never read the machine's own CLI config.
export CHECKPOINT_DISABLE := 1
export TF_CLI_CONFIG_FILE := $(TFRC)

.PHONY: all build tools prerequisites chromium postgres run test test-future test-ui test-e2e fuzz bench clean distclean

all: build

build: $(BIN)/orchestrator

# The binary depends on every Go and embedded file (the dashboard's too); go's own
# cache makes a no-op rebuild cheap. The dashboard has no build step: its files are
# embedded as they are.
$(BIN)/orchestrator: $(shell find . -path ./.tools -prune -o -path ./data -prune -o \( -name '*.go' -o -name '*.tf' -o -name '*.yaml' -o -name '*.sql' -o -name 'go.mod' -o -name 'go.sum' -o -path './server/ui/static/*' \) -print)
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $@ ./cmd/orchestrator

tools: $(PROVIDERS) $(TFRC) $(TOOLS)/terraform-path

# Providers: built with -trimpath so their checksums are the same on every machine.
$(P_LOCAL):
	@$(call build_provider,$(LOCAL_MODULE),terraform-provider-local,$@,)
$(P_RANDOM):
	@$(call build_provider,$(RANDOM_MODULE),terraform-provider-random,$@,)
$(P_TLS):
	@$(call build_provider,$(TLS_MODULE),terraform-provider-tls,$@,github.com/hashicorp/terraform-provider-tls)

# The proxy refuses the openstack version list, so `go install` cannot resolve it:
# download the exact module, then build inside a writable copy of it.
$(P_OPENSTACK):
	@echo ">> building terraform-provider-openstack $(OPENSTACK_VERSION) from the Go module proxy"
	@set -euo pipefail; \
	  dir=$$(GONOSUMDB=github.com/terraform-provider-openstack GOFLAGS=-mod=mod $(GO) mod download -json $(OPENSTACK_MODULE) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	  test -n "$$dir" || { echo "openstack provider module not downloaded" >&2; exit 1; }; \
	  tmp=$$(mktemp -d); trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT; \
	  cp -r "$$dir"/. "$$tmp"/; chmod -R u+w "$$tmp"; \
	  mkdir -p $(dir $@); \
	  (cd "$$tmp" && GONOSUMDB=github.com/terraform-provider-openstack GOFLAGS=-mod=mod GOWORK=off $(GO) build -trimpath -o $@.tmp .); \
	  mv $@.tmp $@

# build_provider MODULE@VERSION, binary name, destination, GONOSUMDB pattern
define build_provider
echo ">> building $(2) from the Go module proxy"; \
set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
GOBIN="$$tmp" GONOSUMDB="$(4)" GOWORK=off $(GO) install -trimpath $(1); \
mkdir -p $(dir $(3)); mv "$$tmp/$(2)" $(3)
endef

# Filesystem mirror only: no direct installation, so `init` never touches a network.
$(TFRC): Makefile
	@mkdir -p $(TOOLS)
	@printf 'provider_installation {\n  filesystem_mirror {\n    path    = "%s"\n    include = ["registry.terraform.io/*/*"]\n  }\n}\n' "$(MIRROR)" > $@
	@echo ">> wrote $@"

# Terraform: the same hc-install lookup the service runs at start (pinned version in
# .tools/bin or PATH, any >= 1.5, then releases when online); when nothing is found,
# build the pinned version from source. The resolved path is cached in a file.
$(TOOLS)/terraform-path: $(BIN)/orchestrator
	@mkdir -p $(TOOLS)/bin
	@set -euo pipefail; \
	  if ! $(BIN)/orchestrator toolchain terraform --tools-dir $(TOOLS) > $@.tmp; then \
	    echo ">> no usable Terraform found: building terraform $(TERRAFORM_VERSION) from source (about 3 minutes)"; \
	    GOBIN=$(TOOLS)/bin GOWORK=off $(GO) install -trimpath -ldflags="-s -w" github.com/hashicorp/terraform@v$(TERRAFORM_VERSION); \
	    $(BIN)/orchestrator toolchain terraform --tools-dir $(TOOLS) --offline > $@.tmp; \
	  fi; \
	  mv $@.tmp $@; echo ">> terraform: $$(cat $@)"

# What the tests need from Debian, installed when missing (CI starts without
# them): Chromium for the dashboard's browser tests; openssh-server, ansible-core
# and curl for software configuration (test hosts are network namespaces running
# their own sshd). Without them those tests fail, they never skip.
PREREQ_CMDS := chromium:chromium /usr/sbin/sshd:openssh-server ansible-playbook:ansible-core curl:curl ssh:openssh-client ip:iproute2
prerequisites:
	@set -e; missing=""; \
	  for pair in $(PREREQ_CMDS); do cmd=$${pair%%:*}; pkg=$${pair#*:}; \
	    if [ "$$cmd" = chromium ]; then command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	    else command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; fi; done; \
	  if [ -n "$$missing" ]; then \
	    echo ">> installing$$missing (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi

# The former name of prerequisites.
chromium: prerequisites

# The PostgreSQL tests (the store suite on both engines, the replicas' end-to-end
# tests, the replica benchmark) start a throwaway cluster from the machine's
# PostgreSQL server (store/pgtest); install it when missing (CI starts without
# it). Without it those tests fail, they never skip.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  echo ">> installing the PostgreSQL server for the PostgreSQL tests (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

run: build tools
	@mkdir -p $(DATA_DIR)
	$(BIN)/orchestrator serve --listen $(LISTEN) --data-dir $(DATA_DIR) \
	  --terraform-path "$$(cat $(TOOLS)/terraform-path)" --providers-dir $(MIRROR)

# All tests that fit the budget (< 15 min on 2 cores), plus a bounded fuzz run.
test: build tools prerequisites postgres
	ORCHESTRATOR_TOOLS_DIR=$(TOOLS) ORCHESTRATOR_BIN=$(BIN)/orchestrator $(GO) test -count=1 -timeout 25m ./...
	$(MAKE) fuzz

# The same tests with every test clock ten years ahead: no test may depend on
# the calendar date.
test-future: build tools prerequisites postgres
	ORCHESTRATOR_TEST_EPOCH=2036-11-23T09:00:00Z ORCHESTRATOR_TOOLS_DIR=$(TOOLS) ORCHESTRATOR_BIN=$(BIN)/orchestrator $(GO) test -count=1 -timeout 25m ./...

# Only the dashboard's browser tests (also part of `make test`); screenshots of
# every page land in bench/results/screenshots/.
test-ui: build tools prerequisites
	ORCHESTRATOR_TOOLS_DIR=$(TOOLS) ORCHESTRATOR_BIN=$(BIN)/orchestrator $(GO) test -count=1 -timeout 10m -v -run '^TestDashboard' ./server/ui/

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 0s ./tosca2tf/

# The slow suite: every test (end-to-end ones included) under the race detector.
test-e2e: build tools prerequisites postgres
	ORCHESTRATOR_TOOLS_DIR=$(TOOLS) ORCHESTRATOR_BIN=$(BIN)/orchestrator $(GO) test -race -count=1 -timeout 40m ./...

# Benchmarks: the Go ones, then the API at scale, then several replicas on
# PostgreSQL (need wrk; installed when missing).
bench: build tools postgres
	ORCHESTRATOR_TOOLS_DIR=$(TOOLS) ORCHESTRATOR_BIN=$(BIN)/orchestrator $(GO) test -run '^$$' -bench . -benchtime 5x ./...
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(GO) run ./bench/apibench -bin $(BIN)/orchestrator -tools-dir $(TOOLS)
	$(GO) run ./bench/replicabench -bin $(BIN)/orchestrator -tools-dir $(TOOLS)

clean:
	rm -rf $(BIN)

# Also drops the toolchain; the next `make` rebuilds it (about 4 minutes).
distclean: clean
	rm -rf $(TOOLS)
