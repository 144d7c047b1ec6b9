"""The warm worker processes' changes to Beam's SDK harness data plane (ops/worker_pool.tune_data_plane): data
messages to the runner of about 1 MB, and send queues limited by count, not bytes, so a large bundle's output
waits in the worker instead of deadlocking the runner. Checked in a child process: this one keeps Beam's."""
import subprocess
import sys

CHECK = """
from apache_beam.runners.worker import data_plane
from ops.worker_pool import tune_data_plane
sent = []
before = data_plane.ClosableOutputStream.create(None, sent.append, -1)._size_flush_threshold
queue_before = data_plane._GrpcDataChannel()._to_send.max_bytes
tune_data_plane(1 << 20)
stream = data_plane.ClosableOutputStream.create(None, sent.append, -1)   # as the data channel makes it
for _ in range(300):
    stream.write(b"x" * 10000)
    stream.maybe_flush()
channel = data_plane._GrpcDataChannel()
print(before, stream._size_flush_threshold, len(sent), max(len(m) for m in sent), queue_before,
      channel._to_send.max_bytes, channel._pending_send.max_bytes)
"""


def test_a_worker_sends_small_messages_and_queues_a_bundles_output_without_a_byte_limit():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True).stdout.split()
    before, after, messages, largest, queue_before, to_send, pending = map(int, out)
    assert before == 10 << 20 and after == 1 << 20
    assert messages == 2 and (1 << 20) < largest <= (1 << 20) + 10000   # 3 MB written: flushed past each 1 MB
    assert queue_before == 100 << 20 and to_send == pending == 0
