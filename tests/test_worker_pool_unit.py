"""The warm worker processes' one change to Beam's SDK harness: data messages to the runner of about 1 MB
(ops/worker_pool.bound_data_messages), checked in a child process so this one keeps Beam's default."""
import subprocess
import sys

CHECK = """
from apache_beam.runners.worker import data_plane
from ops.worker_pool import bound_data_messages
sent = []
before = data_plane.ClosableOutputStream.create(None, sent.append, -1)._size_flush_threshold
bound_data_messages(1 << 20)
stream = data_plane.ClosableOutputStream.create(None, sent.append, -1)   # as the data channel makes it
for _ in range(300):
    stream.write(b"x" * 10000)
    stream.maybe_flush()
print(before, stream._size_flush_threshold, len(sent), max(len(m) for m in sent))
"""


def test_a_worker_sends_its_output_in_messages_of_about_a_megabyte():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True).stdout.split()
    before, after, messages, largest = map(int, out)
    assert before == 10 << 20 and after == 1 << 20
    assert messages == 2 and (1 << 20) < largest <= (1 << 20) + 10000   # 3 MB written: flushed past each 1 MB
