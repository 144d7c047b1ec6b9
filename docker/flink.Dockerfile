# Flink 1.19.3 with Beam's Flink job server, for the pods of k8s/flink.yaml (docs/cluster.md). The context is
# build/cluster/flink-context/, which `python -m pipeline cluster images` fills with the pinned distribution
# (bin, conf, plugins of build/flink/flink-1.19.3, checked by sha256 when fetched; lib/ with the Beam runner's
# jars added, ops/flink_dist.py cluster_lib, so that a job ships none), the job server's jars (flink/pom.xml,
# flink/jobserver.sha256) and its main (flink/LoopbackJobServer.java, compiled against them): no image
# registry, no download at build time but Debian's JRE.
#
#   podman build -f docker/flink.Dockerfile --build-arg BASE=localhost/mnist-lstm-base:bookworm \
#       -t localhost/mnist-lstm-flink:1.19.3 build/cluster/flink-context
ARG BASE=debian:bookworm-slim
FROM ${BASE}

# An image made by `podman import` has no environment of its own.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    FLINK_HOME=/opt/flink \
    FLINK_LOG_DIR=/tmp/flink-log

RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless procps && \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb && \
    useradd --uid 9999 --user-group --no-create-home --home-dir /opt/flink flink

COPY flink/ /opt/flink/
COPY jobserver/ /opt/beam-jobserver/lib/
COPY jobserver-main/ /opt/beam-jobserver/main/
# Nothing is written into the image at run time: logs and Flink's temp files go to /tmp (an emptyDir in the
# pods), the configuration comes from a ConfigMap mounted on /opt/flink/conf.
USER 9999:9999
WORKDIR /opt/flink
