"""pipeline/memory.py: what a step freed goes back to the system before the next step."""
import pytest

from pipeline import memory


def _anon_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon")) / 1024


@pytest.mark.skipif(memory._glibc() is None, reason="malloc_trim is glibc's")
def test_release_returns_freed_heap_pages():
    # 160 MB of 8 KB blocks (malloc's heap, not mmap), then all freed but every 50th: the kept ones pin
    # the heap's top, so glibc keeps the freed pages until malloc_trim hands them back
    blocks = [bytes(8192) for _ in range(20000)]
    kept = blocks[::50]
    del blocks
    before = _anon_mb()
    memory.release()
    after = _anon_mb()
    assert before - after > 80, (before, after)
    assert len(kept) == 400
