# allocstorm — the user's front door. Every target does its own set-up.

CARGO ?= cargo
SCENARIO ?= scenarios/hot-range.toml
VARIANT ?= glibc
RELEASE := target/release

RUNS ?= 3
OUT ?=
OUT_FLAG := $(if $(OUT),--out $(OUT),)

GATE_RUNS ?= 3
GATE_OUT ?= reports/gate-$(shell date -u +%Y%m%d-%H%M%S)

.PHONY: build deps servers tools test fuzz stress compare quick incidents report gate gate-baseline run run-quick lint fmt bench bench-server bench-load clean docker-image docker-quick docker-compare docker-test compose-test
ALLOCSTORM := $(RELEASE)/allocstorm
UNAME_S := $(shell uname -s)
# The allocator libraries that SCENARIO's variants preload, installed when missing (Debian,
# Ubuntu). Where they cannot be had, the comparison still runs: those variants are `skipped`.
SCENARIO_DEPS = ALLOCSTORM=$(ALLOCSTORM) bash scripts/deps.sh --scenario $(1)

## build: the server binaries (one per allocator) and allocstorm, optimised
build:
	$(CARGO) build --release --workspace

## deps: the Debian packages the tests and preload variants need (jemalloc, tcmalloc, mimalloc
## shared libraries); apt-get runs only when one is missing. Prints where the libraries are.
deps:
	bash scripts/deps.sh

## servers: the real servers the [target] examples and tests start (nginx, apache2-bin,
## redis-server, caddy), redis-tools and wrk, from Debian's packages; apt-get runs only when
## one is missing. See scenarios/targets/.
servers:
	bash scripts/servers.sh

## tools: the checkers the tests use: check-jsonschema in a venv under target/tools/ (the
## example CI workflow's schema, the bmf export's) and promtool (Debian's prometheus, for the
## openmetrics export) and chromium (Debian's, for the report.html browser test); pip and
## apt-get run only when one is missing
tools:
	bash scripts/tools.sh

## test: unit and end-to-end tests (debug build, short phases); installs what they need first
test: deps servers tools
	$(CARGO) build --workspace
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

## fuzz: target-server's fuzz tests with FUZZ_CASES cases (per parser property, and per binary
## for raw requests against a running server); see target-server/README.md for how long it takes;
## then the coordinator's and the load worker's line parsers (harness/tests/fuzz_wire.rs)
FUZZ_CASES ?= 20000
fuzz:
	@rc=0; \
	FUZZ_CASES=$(FUZZ_CASES) $(CARGO) nextest run -p target-server --test fuzz_ranges --test fuzz_requests --no-fail-fast || rc=1; \
	FUZZ_CASES=$(FUZZ_CASES) $(CARGO) nextest run -p allocstorm --test fuzz_wire --no-fail-fast || rc=1; \
	exit $$rc

## stress: the fault suite at full length: harness/tests/faults.rs and run_e2e.rs's fault tests,
## target-server's overload_sustained (OVERLOAD_SECS=30 per allocator), slow_clients and
## boundaries, then the fuzz tests with FUZZ_CASES cases. Every part runs; any failure fails it.
## About 5 min here (see docs/reliability.md). `make test` runs the same tests at CI length
## (5 s of overload, fewer fuzz cases).
OVERLOAD_SECS ?= 30
stress:
	$(CARGO) build --workspace
	@rc=0; \
	$(CARGO) nextest run -p allocstorm --test faults --test run_e2e --no-fail-fast \
		-E 'binary(faults) | test(=sigint_leaves_no_process_and_keeps_samples) | test(=a_server_killed_mid_run_is_recorded_as_failed_with_its_signal)' \
		|| rc=1; \
	OVERLOAD_SECS=$(OVERLOAD_SECS) $(CARGO) nextest run -p target-server --test overload_sustained \
		--test slow_clients --test boundaries --no-fail-fast || rc=1; \
	FUZZ_CASES=$(FUZZ_CASES) $(CARGO) nextest run -p target-server --test fuzz_ranges \
		--test fuzz_requests --no-fail-fast || rc=1; \
	FUZZ_CASES=$(FUZZ_CASES) $(CARGO) nextest run -p allocstorm --test fuzz_wire --no-fail-fast || rc=1; \
	exit $$rc

ifeq ($(UNAME_S),Linux)
## compare: every variant of SCENARIO, RUNS times each, interleaved, at full phase lengths.
## Exit 0 all measured, 1 a run failed, 3 incomplete (a variant skipped: its library missing).
compare: build
	@$(call SCENARIO_DEPS,$(SCENARIO))
	$(ALLOCSTORM) compare --scenario $(SCENARIO) --variants all --runs $(RUNS) $(OUT_FLAG)

## quick: the same comparison with --quick phases and one run per variant, with the price of each fix (about 4 minutes here, once built)
quick: build
	@$(call SCENARIO_DEPS,$(SCENARIO))
	$(ALLOCSTORM) compare --scenario $(SCENARIO) --variants all --runs 1 --quick $(OUT_FLAG)
else
# Not Linux (macOS, Windows): the harness reads /proc, so the comparison runs in the pinned
# Linux container of docker/ (see docs/docker.md).
compare:
	@echo "allocstorm: $(UNAME_S) has no /proc: running the comparison in Docker instead (make docker-compare)"
	@$(MAKE) --no-print-directory docker-compare
quick:
	@echo "allocstorm: $(UNAME_S) has no /proc: running the comparison in Docker instead (make docker-quick)"
	@$(MAKE) --no-print-directory docker-quick
endif

## incidents: each of the five incident scenarios, --quick, one run per variant (about 7 min here);
## one report directory per scenario under reports/. Every scenario runs whatever one of them
## ended with; the exit code is the worst (1 a run failed, 3 a variant skipped).
INCIDENTS ?= hot-range pinned-pool thread-arenas pool-burst buffered-vs-streaming
incidents: build
	@stamp=$$(date -u +%Y%m%d-%H%M%S); worst=0; for s in $(INCIDENTS); do \
		echo "== $$s"; \
		$(call SCENARIO_DEPS,scenarios/$$s.toml); \
		$(ALLOCSTORM) compare --scenario scenarios/$$s.toml --variants all --runs 1 --quick \
			--out reports/incidents-$$stamp/$$s; c=$$?; \
		case $$c in 0) ;; 1|3) [ $$worst -eq 1 ] || worst=$$c ;; *) exit $$c ;; esac; \
	 done; exit $$worst

## report: render a report directory again from its records (DIR=reports/...), or merge the
## shards of one comparison into OUT (DIR="shard-1 shard-2" OUT=merged)
report: build
	$(ALLOCSTORM) report $(DIR) $(OUT_FLAG)

## gate: a quick comparison (GATE_RUNS per variant), then the gate: the scenario's budgets and
## the committed baseline for this host in baselines/, if there is one. Exit 0 pass,
## 1 regression, 2 harness or input error, 3 inconclusive.
## (scripts/gate.sh; through make every failure is exit 2: call the script to branch on the code)
gate: build
	ALLOCSTORM=$(ALLOCSTORM) bash scripts/gate.sh $(SCENARIO) $(GATE_RUNS) $(GATE_OUT)

## gate-baseline: make this host's baseline (5 runs per variant) in baselines/
gate-baseline: build
	@$(call SCENARIO_DEPS,$(SCENARIO))
	$(ALLOCSTORM) compare --scenario $(SCENARIO) --variants all --runs 5 --quick --quiet --out $(GATE_OUT)
	$(ALLOCSTORM) gate --run $(GATE_OUT) --update-baseline baselines/

## run: one run of one variant (VARIANT=glibc SCENARIO=...) at full length
run: build
	@$(call SCENARIO_DEPS,$(SCENARIO)) --variants $(VARIANT)
	$(ALLOCSTORM) run --scenario $(SCENARIO) --variant $(VARIANT)

## run-quick: the same with --quick
run-quick: build
	@$(call SCENARIO_DEPS,$(SCENARIO)) --variants $(VARIANT)
	$(ALLOCSTORM) run --scenario $(SCENARIO) --variant $(VARIANT) --quick

## lint: formatting and clippy, as CI checks them
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## bench: the benchmark scripts (not tests): server vs nginx, our load client vs wrk
bench: bench-server bench-load
bench-server:
	target-server/bench/vs-nginx.sh
bench-load:
	harness/bench/load-vs-wrk.sh

## docker-image: the pinned Linux environment of docker/ (Debian 12, glibc 2.36), cached
docker-image:
	bash scripts/docker.sh image

## docker-quick / docker-compare: `make quick` / `make compare` inside that container; the
## report is written to this checkout's reports/, owned by you. SCENARIO, RUNS, OUT pass through.
docker-quick:
	bash scripts/docker.sh quick
docker-compare:
	bash scripts/docker.sh compare

## docker-test: installs docker.io and starts dockerd if needed, builds the image (its base made
## with mmdebstrap when there is no registry), runs a short two-variant comparison in it and
## checks the report on the host; leaves no container running. .ci/run runs it.
docker-test:
	bash scripts/docker-test.sh

## compose-test: the [remote] topology for real: deploy/compose/compose.yaml with Debian's
## docker-compose, one coordinator container and the scenario's load-worker containers on a
## private network (198.18.0.0/24), a two-variant comparison of hot-range-remote, checked on
## the host (merged load = sum over the workers); every container removed after. Reuses the
## image of docker-test. See docs/cluster.md.
compose-test:
	bash scripts/compose-test.sh

clean:
	$(CARGO) clean
