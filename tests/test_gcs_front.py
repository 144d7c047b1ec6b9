"""ops/gcs_front.py's mend of Beam's batch requests, without a server: every part gets a Content-ID, in
order, and parts that had one keep it (LF-only part headers, as google-cloud-storage writes them, and CRLF)."""
from ops.gcs_front import with_content_ids

BODY = (b"--XX\nContent-Type: application/http\nMIME-Version: 1.0\n\nPOST /copy HTTP/1.1\r\nH: 1\r\n\r\n{}\n"
        b"--XX\r\nContent-Type: application/http\r\nContent-ID: <mine>\r\n\r\nDELETE /b HTTP/1.1\r\n\r\n\n"
        b"--XX\r\nContent-Type: application/http\r\n\r\nDELETE /c HTTP/1.1\r\n\r\n\n--XX--\n")


def test_every_batch_part_gets_a_content_id():
    out = with_content_ids(BODY, 'multipart/mixed; boundary="XX"')
    parts = out.split(b"--XX")[1:-1]
    assert b"MIME-Version: 1.0\nContent-ID: <part+1>\n\nPOST /copy" in parts[0]      # LF headers stay LF
    assert b"Content-ID: <mine>" in parts[1] and b"part+2" not in out
    assert b"\r\nContent-ID: <part+3>\r\n\r\nDELETE /c" in parts[2]
    assert out.count(b"Content-ID") == 3 and b"POST /copy HTTP/1.1\r\nH: 1\r\n\r\n{}" in out   # bodies untouched


def test_a_body_without_a_boundary_is_left_alone():
    assert with_content_ids(BODY, "application/json") == BODY
