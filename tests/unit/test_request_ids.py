"""New request ids: drawn from the OS in bulk, never repeated, not shared with a fork."""

from __future__ import annotations

import os

from gql_keys.request_ids import new_request_id, request_id_for


def test_new_ids_are_16_hex_digits_and_never_repeat_across_refills() -> None:
    ids = [new_request_id() for _ in range(3000)]  # several pools' worth
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


def test_a_forked_child_draws_ids_its_parent_does_not() -> None:
    new_request_id()  # the parent holds a partly used pool
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, "".join(new_request_id() for _ in range(100)).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    os.close(write)
    child = os.read(read, 10_000).decode()
    os.close(read)
    child_ids = {child[i : i + 16] for i in range(0, len(child), 16)}
    assert len(child_ids) == 100
    assert not child_ids & {new_request_id() for _ in range(100)}


def test_a_well_formed_caller_id_is_kept_and_another_replaced() -> None:
    assert request_id_for("gw-123.a_b") == "gw-123.a_b"
    replaced = request_id_for("bad id\n")
    assert replaced != "bad id\n"
    assert len(replaced) == 16
