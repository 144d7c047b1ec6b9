# `make pipeline` and `make test` work on a fresh clone: the venv is built from the lock when missing.
PYTHON_BIN ?= python3.11
VENV       := .venv
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.installed
DATASET    ?= mnist
RUNNER     ?= direct
CONFIG     ?= pipeline.yaml
ARGS       ?=
PROFILE    ?=

.PHONY: pipeline test test-unit test-e2e test-faults test-flink bench bench-flink report venv lock clean fashion-data wheel worker-image \
	flink-fetch flink-up flink-down flink-status flink-lock lint worker-up worker-down test-container bench-scale \
	test-gcs gcs-fetch gcs-up gcs-down gcs-status bench-gcs bench-tuner test-cluster cluster-images cluster-up cluster-down cluster-status bench-pods \
	test-postgres airflow-venv airflow-lock test-airflow test-kfp kfp-venv kfp-lock

pipeline: $(STAMP) $(if $(filter fashion_mnist,$(DATASET)),fashion-data)
	$(PY) -m pipeline run --config $(CONFIG) --set data.dataset=$(DATASET) --runner $(RUNNER) $(if $(PROFILE),--profile $(PROFILE)) $(ARGS)

# The Flink tests (make test-flink) run in .ci/run after these, on the cluster it starts.
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -n 2 -m "not flink and not container and not gcs and not cluster and not postgres and not airflow and not kfp" $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

test-unit: $(STAMP)
	$(PY) -m pytest -q -m "not e2e" $(ARGS)

test-e2e: $(STAMP)
	$(PY) -m pytest -q -m e2e $(ARGS)

test-faults: $(STAMP)
	$(PY) -m pytest -q -n 2 -m faults $(ARGS)

test-flink: $(STAMP) flink-fetch
	$(PY) -m pytest -q -p no:cacheprovider -m flink $(ARGS)

# The DOCKER environment on the local Flink cluster (docs/container.md): needs podman, runc, debootstrap, Go.
test-container: $(STAMP) flink-fetch worker-image
	$(PY) -m pytest -q -p no:cacheprovider -m container $(ARGS)

# A gs:// root on a local GCS-compatible server and Dataflow's submission path (docs/storage.md): builds
# fake-gcs-server once into build/gcs/bin (Go), starts and stops it per test session.
test-gcs: $(STAMP) gcs-fetch
	$(PY) -m pytest -q -p no:cacheprovider -m gcs $(ARGS)

gcs-fetch: $(STAMP)
	@$(PY) -m pipeline gcs fetch

# The same object store for trying a gs:// root by hand: make gcs-up, then --set pipeline.object_store=local
gcs-up: gcs-fetch
	@$(PY) -m pipeline gcs up

gcs-down: $(STAMP)
	@$(PY) -m pipeline gcs down

gcs-status: $(STAMP)
	@$(PY) -m pipeline gcs status

# Flink in pods from k8s/flink.yaml and its object store (k8s/objstore.yaml) with podman kube play
# (docs/cluster.md): the images are built here (debootstrap base, Debian's JRE, the pinned Flink).
cluster-images: $(STAMP) flink-fetch gcs-fetch
	@$(PY) -m pipeline cluster images

cluster-up: cluster-images
	@$(PY) -m pipeline cluster up

cluster-down: $(STAMP)
	@$(PY) -m pipeline cluster down

cluster-status: $(STAMP)
	@$(PY) -m pipeline cluster status

# The pod cluster's tests: they bring it up and take down what they started.
test-cluster: cluster-images
	$(PY) -m pytest -q -p no:cacheprovider -m cluster $(ARGS)
	$(PY) -m pytest -q -p no:cacheprovider tests/test_cluster_yaml.py   # its Flink checks skip without build/flink

# The metadata store's tests on a PostgreSQL server they start on loopback (Debian's postgresql; docs/orchestration.md).
test-postgres: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m "postgres and not airflow" $(ARGS)

# Airflow 3 and the KFP SDK, each in a venv of its own from its hashed lock (never in the runtime image: KFP
# pins a requests our lock does not have); the tasks they launch run .venv (docs/orchestration.md).
build/%/venv/.installed: requirements-pip.lock requirements-%.lock
	test -x build/$*/venv/bin/python || $(PYTHON_BIN) -m venv build/$*/venv
	build/$*/venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements-pip.lock
	build/$*/venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements-$*.lock
	build/$*/venv/bin/python -m pip check
	touch $@

airflow-venv: build/airflow/venv/.installed
kfp-venv: build/kfp/venv/.installed

airflow-lock kfp-lock: %-lock:
	test -x build/$*/venv/bin/python || $(PYTHON_BIN) -m venv build/$*/venv
	build/$*/venv/bin/python -m pip install -q -r requirements-$*.txt packaging   # ops/lock.py reads with it
	build/$*/venv/bin/python -m ops.lock --tool $*

# The DAG run by the real Airflow engine (dag.test() on SQLite); one case with the store on PostgreSQL.
test-airflow: $(STAMP) airflow-venv
	$(PY) -m pytest -q -p no:cacheprovider -m airflow $(ARGS)

# The Kubeflow Pipelines spec compiled by the KFP SDK and checked step by step, edge by edge.
test-kfp: $(STAMP) kfp-venv
	$(PY) -m pytest -q -p no:cacheprovider -m kfp $(ARGS)

# A local Flink 1.19.3 session cluster and Beam's Flink job server (docs/flink.md): fetched once into
# build/flink/ (pinned by sha256), started and stopped by PID. `make pipeline RUNNER=flink` runs on it.
flink-fetch: $(STAMP)
	@$(PY) -m pipeline flink fetch

flink-up: flink-fetch
	@$(PY) -m pipeline flink up

flink-down: $(STAMP)
	@$(PY) -m pipeline flink down

flink-status: $(STAMP)
	@$(PY) -m pipeline flink status

# Rewrite flink/jobserver.sha256 after a deliberate change of flink/pom.xml (review the diff).
flink-lock:
	rm -rf build/flink/lock-check && mvn -q -B -C -f flink/pom.xml dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/build/flink/lock-check
	(echo "# sha256 of every jar of Beam's Flink job server (flink/pom.xml); regenerate with: make flink-lock"; \
	  cd build/flink/lock-check && sha256sum *.jar) > flink/jobserver.sha256

report: $(STAMP)
	@$(PY) -m pipeline report --config $(CONFIG)

venv: $(STAMP)

# The venv's own pip first (requirements-pip.lock, hashed), then the locks; the locks alone also install with
# the pip that python3.11 -m venv brings (every name[extra] has its own line: ops/lock.py, tests/test_lock.py).
$(STAMP): requirements-pip.lock requirements.lock requirements-dev.lock
	test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	@echo "venv: $$($(PY) --version), $$($(PY) -m pip --version | cut -d' ' -f1-2) from venv"
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r requirements-pip.lock
	@echo "venv: installing the locks with $$($(PY) -m pip --version | cut -d' ' -f1-2)"
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r requirements.lock -r requirements-dev.lock
	$(PY) -m pip check
	touch $(STAMP)

# Debian's dataset-fashion-mnist puts the 70,000 IDX images in /usr/share/datasets/fashion-mnist/.
fashion-data:
	@test -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz || \
	  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)

# Benchmarks: each prints its ratio against a plain baseline measured in the same run (see bench/), or its
# figure against issue #15's goal; the last two are the scaling curve and the accuracy runs (about 35 min in all).
BENCH_ROOT ?= build/bench_root
bench: $(STAMP) fashion-data gcs-fetch
	rm -rf $(BENCH_ROOT) build/bench/results.jsonl
	$(PY) bench/e2e.py --root $(BENCH_ROOT)
	$(PY) bench/ingest.py --dataset fashion_mnist
	$(PY) bench/train_input.py --root $(BENCH_ROOT)
	$(PY) bench/evaluate.py --root $(BENCH_ROOT)
	$(PY) bench/predict.py --root $(BENCH_ROOT)
	$(PY) bench/scale.py
	$(PY) bench/accuracy.py
	$(PY) bench/gcs.py
	$(PY) bench/machinery.py --rounds 1
	$(PY) bench/table.py   # the figures above into docs/performance.md "Benchmarks"

# A gs:// root against a local one, same run (docs/storage.md): builds fake-gcs-server once (Go).
bench-gcs: $(STAMP) fashion-data gcs-fetch
	$(PY) bench/gcs.py

# The Tuner (docs/tuner.md): the tune profile against the default run, 1 and 2 trials at once and on the local
# Flink cluster (make flink-up first), on the MNIST sample; about 45 minutes.
bench-tuner: $(STAMP) flink-fetch
	$(PY) bench/tuner.py --flink
	$(PY) bench/table.py

# Only the scaling curve (7k, 70k, 700k images; about 15 minutes): bench/scale.py.
bench-scale: $(STAMP) fashion-data
	$(PY) bench/scale.py

# Fashion-MNIST on the Flink cluster in pods (gs:// root) against the in-process runner on the same root, then
# 700k images with one slot per Beam step against two (docs/cluster.md); about 60 minutes.
bench-pods: $(STAMP) fashion-data cluster-images
	$(PY) bench/pods.py
	$(PY) bench/pods.py --scale 700000
	$(PY) bench/table.py

# Fashion-MNIST on the local Flink cluster against the in-process runner (starts and stops it if not up).
bench-flink: $(STAMP) fashion-data flink-fetch
	$(PY) bench/flink.py
	$(PY) bench/flink_phases.py --compare   # each Beam step's phases and fixed cost (MNIST sample)
	$(PY) bench/table.py

wheel: $(STAMP)
	rm -rf dist && $(PY) -m pip wheel -q --no-deps --no-build-isolation -w dist .

# The Beam SDK worker image, with podman from a debootstrapped Debian base (docs/container.md); with Docker
# and a public base instead: python -m pipeline worker inputs, then the docker build in docker/Dockerfile.
worker-image: $(STAMP)
	@$(PY) -m pipeline worker build

# podman's Docker-compatible socket, which Flink's TaskManager uses (start it before make flink-up).
worker-up: $(STAMP)
	@$(PY) -m pipeline worker up

worker-down: $(STAMP)
	@$(PY) -m pipeline worker down

# The runtime lock and the development lock, with sha256 from PyPI (ops/lock.py)
lock:
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m ops.lock

clean:
	rm -rf pipeline_root .pytest_cache build dist
