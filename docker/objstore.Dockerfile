# The local GCS-compatible object store of the pod cluster (k8s/objstore.yaml, docs/cluster.md): for tests
# and trying the pipeline without a cloud account; a real cluster uses a real bucket and has no such pod.
# The context is build/cluster/objstore-context/: fake-gcs-server as built by `python -m pipeline gcs fetch`
# (pinned, checked by its go.sum hash) and ops/gcs_front.py (Python's standard library only).
#
#   podman build -f docker/objstore.Dockerfile --build-arg BASE=localhost/mnist-lstm-base:bookworm \
#       -t localhost/mnist-lstm-objstore:1.56.1 build/cluster/objstore-context
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 && \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY fake-gcs-server /usr/local/bin/fake-gcs-server
COPY ops/ /opt/objstore/ops/
# the mount point of the objects' volume, owned by the server's user (podman copies it into a new volume)
RUN mkdir -p /data && chown 1000:1000 /data
USER 1000:1000
WORKDIR /opt/objstore
