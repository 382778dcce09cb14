"""The process runtime (workers/kubelet/process.py) driven through its Python API, with real
processes: exit codes, per-attempt logs, SIGTERM then SIGKILL, exec/attach/logs/port_forward,
exec/http/tcp probes, environment and volumes that need no API server, usage from /proc."""
from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time

import pytest

from workers.kubelet import volumes
from workers.kubelet.process import ProcessRuntime
from workers.kubelet.process_env import command_line, expand
from workers.kubelet.process_streams import LogFile, read_log
from workers.kubelet.runtime import ContainerNotRunning, StreamingUnsupported

SANDBOXES = ["none", "auto"]


def pod(uid="u1", **spec):
    return {"metadata": {"uid": uid, "name": "p", "namespace": "ns", "labels": {"app": "x"}},
            "status": {"podIP": "10.244.0.9"}, "spec": spec}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def drain(read) -> bytes:
    out = b""
    while data := await read():
        out += data
    return out


async def started(rt, p, container, attempt=0):
    cid = await rt.create_container(p, container, attempt)
    await rt.start_container(cid)
    return cid


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_exit_code_and_logs_of_each_attempt(tmp_path, sandbox):
    async def go():
        rt = ProcessRuntime(tmp_path, sandbox=sandbox)
        c = {"name": "c", "args": ["sh", "-c", "echo hello; echo oops >&2; printf tail; exit 3"]}
        first = await started(rt, pod(), c)
        assert await rt.wait_container(first) == 3
        second = await started(rt, pod(), {**c, "args": ["sh", "-c", "echo again"]}, 1)
        assert await rt.wait_container(second) == 0
        lines = [line async for line in rt.logs(first, follow=False)]
        assert [(x.stream, x.data) for x in lines] == [
            ("stdout", b"hello\n"), ("stderr", b"oops\n"), ("stdout", b"tail")]
        assert lines[0].time.endswith("Z") and len(lines[0].time.split(".")[1]) == 10
        # the previous attempt still answers after the restart, until remove_pod
        assert [x.data async for x in rt.logs(second, follow=False)] == [b"again\n"]
        assert (tmp_path / "pods/u1/logs/c/0.log").exists()
        await rt.remove_pod("u1")
        assert [x async for x in rt.logs(first, follow=False)] == []
        assert not (tmp_path / "pods/u1").exists()
    run(go())


def test_old_attempts_are_forgotten_and_logs_rotate(tmp_path):
    async def go():
        rt = ProcessRuntime(tmp_path, sandbox="none")
        ids = []
        for attempt in range(3):
            cid = await started(rt, pod(), {"name": "c", "args": ["sh", "-c", f"echo {attempt}"]},
                                attempt)
            await rt.wait_container(cid)
            ids.append(cid)
        # the newest attempt and the one before it stay; the first is gone with its log
        assert [x.data async for x in rt.logs(ids[0], follow=False)] == []
        assert not (tmp_path / "pods/u1/logs/c/0.log").exists()
        assert [x.data async for x in rt.logs(ids[1], follow=False)] == [b"1\n"]
        log = LogFile(tmp_path / "rotating.log", max_size=300)
        follower = read_log(log.path, log, True)
        log.feed("stdout", b"line 0\n")
        assert (await follower.__anext__()).data == b"line 0\n"
        seen = []

        async def follow():
            async for x in follower:
                seen.append(x.data)
        reader = asyncio.ensure_future(follow())
        for i in range(1, 20):                   # written over time, the reader keeping up
            log.feed("stdout", b"line %d\n" % i)
            await asyncio.sleep(0.01)
        log.close()
        await reader
        assert seen == [b"line %d\n" % i for i in range(1, 20)]     # across rotations
        assert log.generation > 1 and os.path.getsize(log.path) <= 300
        kept = [x.data async for x in read_log(log.path, None, False)]
        assert kept[-1] == b"line 19\n" and len(kept) < 20          # one rotated part kept
        await rt.remove_pod("u1")
    run(go())


def test_follow_streams_until_the_attempt_ends(tmp_path):
    async def go():
        rt = ProcessRuntime(tmp_path, sandbox="none")
        cid = await started(rt, pod(), {"name": "c", "command": [
            "sh", "-c", "echo one; sleep 0.3; echo two"]})
        seen = [x.data async for x in rt.logs(cid, follow=True)]
        assert seen == [b"one\n", b"two\n"]
    run(go())


def test_missing_executable_fails_the_attempt_with_128(tmp_path):
    async def go():
        rt = ProcessRuntime(tmp_path, sandbox="none")
        cid = await started(rt, pod(), {"name": "c", "command": ["no-such-binary-here"]})
        assert await rt.wait_container(cid) == 128
        (line,) = [x async for x in rt.logs(cid, follow=False)]
        assert b'"no-such-binary-here": executable file not found' in line.data
    run(go())


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_sigterm_then_sigkill_after_the_grace_period(tmp_path, sandbox):
    async def go():
        rt = ProcessRuntime(tmp_path, sandbox=sandbox)
        polite = await started(rt, pod(), {"name": "a", "command": [
            "sh", "-c", "trap 'echo bye; exit 0' TERM; echo up; while true; do sleep 0.1; done"]})
        stubborn = await started(rt, pod(), {"name": "b", "command": [
            "sh", "-c", "trap '' TERM; echo up; while true; do sleep 0.1; done"]})
        for cid in (polite, stubborn):          # both have set their traps
            async for line in rt.logs(cid, follow=True):
                if line.data == b"up\n":
                    break
        t = time.monotonic()
        assert await rt.stop_container(polite, 5) == 0
        assert time.monotonic() - t < 2
        assert [x.data async for x in rt.logs(polite, follow=False)][-1] == b"bye\n"
        t = time.monotonic()
        assert await rt.stop_container(stubborn, 1) == 137          # SIGKILL
        assert 0.9 < time.monotonic() - t < 4
        assert await rt.stop_container(stubborn, 1) == 137          # a no-op now
        await rt.remove_pod("u1")
    run(go())


def test_pre_stop_hooks_run_before_sigterm_within_the_grace_period(tmp_path):
    async def go():
        rt = ProcessRuntime(tmp_path, sandbox="auto")
        cid = await started(rt, pod(), {
            "name": "c", "command": ["sh", "-c", "trap 'cat $HOME/pre; exit 0' TERM; echo up; "
                                     "while true; do sleep 0.1; done"],
            "lifecycle": {"preStop": {"exec": {"command": [
                "sh", "-c", "echo pre-stop ran > $HOME/pre; echo noise >&2"]}}}})
        async for line in rt.logs(cid, follow=True):
            if line.data == b"up\n":
                break
        assert await rt.stop_container(cid, 10) == 0
        # the TERM trap read what the hook wrote ("Terminated" is sh about its sleep)
        assert b"pre-stop ran\n" in [x.data async for x in rt.logs(cid, follow=False)]
        slow = await started(rt, pod(), {
            "name": "d", "command": ["sh", "-c", "trap 'exit 0' TERM; echo up; "
                                     "while true; do sleep 0.1; done"],
            "lifecycle": {"preStop": {"sleep": {"seconds": 1}}}})
        async for line in rt.logs(slow, follow=True):
            break
        t = time.monotonic()
        assert await rt.stop_container(slow, 10) == 0
        assert 0.9 < time.monotonic() - t < 3
        await rt.remove_pod("u1")
    run(go())


def test_post_start_hooks_report_failure_as_upstreams_handler_runner(tmp_path):
    import http.server
    import socket
    import threading

    class Answer500(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(500)
            self.end_headers()

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer500)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]

    async def go():
        rt = ProcessRuntime(tmp_path, sandbox="auto")

        async def hook(handler):
            cid = await started(rt, pod(), {"name": "c", "command": ["sleep", "30"],
                                            "lifecycle": {"postStart": handler}})
            try:
                return await rt.post_start(cid)
            finally:
                await rt.stop_container(cid, 0)

        assert await hook({"exec": {"command": ["sh", "-c", "echo secret; exit 0"]}}) is None
        failed = await hook({"exec": {"command": ["sh", "-c", "echo secret; exit 7"]}})
        assert failed.startswith("Exec lifecycle hook (['sh', '-c', 'echo secret; exit 7'])")
        assert failed.endswith("exited with 7") and "secret\n" not in failed
        # any answer will do for httpGet (upstream checks no status), no answer fails
        assert await hook({"httpGet": {"port": httpd.server_address[1], "path": "/x"}}) is None
        failed = await hook({"httpGet": {"port": closed, "path": "/ready"}})
        assert failed.startswith("HTTP lifecycle hook (/ready) for Container 'c' failed")
        assert "connection refused" in failed
        assert await hook({"sleep": {"seconds": 0}}) is None
        cid = await started(rt, pod(), {"name": "c", "command": ["sleep", "30"]})
        assert await rt.post_start(cid) is None            # no hook: nothing to fail
        await rt.remove_pod("u1")
    try:
        run(go())
    finally:
        httpd.shutdown()


def test_exec_in_the_containers_environment_with_and_without_tty(tmp_path):
    async def go():
        rt = ProcessRuntime(tmp_path, sandbox="auto")
        cid = await started(rt, pod(), {"name": "c", "command": ["sleep", "30"],
                                        "env": [{"name": "GREETING", "value": "hi"}]})
        s = await rt.exec(cid, ["sh", "-c", 'echo "$GREETING $HOSTNAME"; pwd; echo e >&2; '
                                "exit 4"], stdin=False, tty=False)
        out, err = await asyncio.gather(drain(s.read_stdout), drain(s.read_stderr))
        assert out.decode().splitlines() == ["hi p", str(tmp_path / "pods/u1/containers/c")]
        assert err == b"e\n" and await s.wait() == 4
        s = await rt.exec(cid, ["cat"], stdin=True, tty=False)
        await s.write_stdin(b"piped\n")
        await s.close_stdin()
        assert await drain(s.read_stdout) == b"piped\n" and await s.wait() == 0
        s = await rt.exec(cid, ["sh", "-c", "stty size; test -t 0 && echo tty"], stdin=True,
                          tty=True)
        s.resize(100, 30)
        assert await drain(s.read_stdout) == b"30 100\r\ntty\r\n"
        assert await s.read_stderr() == b"" and await s.wait() == 0
        s = await rt.exec(cid, ["sleep", "30"], stdin=False, tty=False)
        await s.close()                         # the client left: the command is killed
        assert await s.wait() == 137
        with pytest.raises(StreamingUnsupported):
            await rt.exec(cid, ["no-such-binary-here"], stdin=False, tty=False)
        await rt.stop_container(cid, 0)
        with pytest.raises(ContainerNotRunning):
            await rt.exec(cid, ["true"], stdin=False, tty=False)
    run(go())


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_an_interactive_shell_on_a_tty_exits_cleanly(tmp_path, sandbox):
    # job control needs the shell's own process group in the foreground of its terminal,
    # inside the PID namespace too, or dash's exit fails ("Cannot set tty process group")
    async def go():
        rt = ProcessRuntime(tmp_path, sandbox=sandbox)
        cid = await started(rt, pod(), {"name": "c", "command": ["sleep", "30"]})
        s = await rt.exec(cid, ["sh", "-i"], stdin=True, tty=True)
        await s.write_stdin(b"echo in-$((6*7)); exit\n")
        out = await drain(s.read_stdout)
        assert b"in-42" in out and b"Cannot set tty" not in out, out
        assert await s.wait() == 0
        main = await started(rt, pod(uid="u2"), {"name": "t", "tty": True, "stdin": True,
                                                 "command": ["sh", "-i"]})
        a = await rt.attach(main, stdin=True, tty=True)
        await a.write_stdin(b"exit 0\n")
        assert await rt.wait_container(main) == 0
        # a tty container in its own session still gets SIGTERM when stopped
        trap = await started(rt, pod(uid="u3"), {"name": "t", "tty": True, "command": [
            "sh", "-c", "trap 'exit 9' TERM; while :; do sleep 0.1; done"]})
        await asyncio.sleep(0.5)
        assert await rt.stop_container(trap, 10) == 9
        for uid in ("u1", "u2", "u3"):
            await rt.remove_pod(uid)
    run(go())


def test_attach_to_the_main_process(tmp_path):
    async def go():
        rt = ProcessRuntime(tmp_path, sandbox="none")
        cid = await started(rt, pod(), {"name": "c", "stdin": True, "stdinOnce": True,
                                        "command": ["sh", "-c", "while read l; do echo got $l; "
                                                    "echo err $l >&2; done; exit 7"]})
        a = await rt.attach(cid, stdin=True, tty=False)
        b = await rt.attach(cid, stdin=False, tty=False)     # a second attacher sees it all
        await a.write_stdin(b"x\n")
        assert await a.read_stdout() == b"got x\n" and await a.read_stderr() == b"err x\n"
        assert await b.read_stdout() == b"got x\n"
        await a.close_stdin()                                # stdinOnce: the container's too
        assert await a.wait() == 7 and await rt.wait_container(cid) == 7
        assert await drain(b.read_stdout) == b""
        # the attached output is in the log as well
        assert [x.data async for x in rt.logs(cid, follow=False)] == [b"got x\n", b"err x\n"]
        with pytest.raises(ContainerNotRunning):
            await rt.attach(cid, stdin=False, tty=False)
        tty = await started(rt, pod(), {"name": "t", "stdin": True, "tty": True,
                                        "command": ["sh", "-c", "read l; echo tty-$l"]}, 0)
        t = await rt.attach(tty, stdin=True, tty=True)
        await t.write_stdin(b"y\n")
        out = await drain(t.read_stdout)
        assert b"tty-y" in out and await t.wait() == 0
        virtual = await started(rt, pod(), {"name": "v", "image": "nginx"})
        with pytest.raises(StreamingUnsupported):
            await rt.attach(virtual, stdin=False, tty=False)
        await rt.remove_pod("u1")
    run(go())


def test_port_forward_and_probes(tmp_path):
    async def go():
        rt = ProcessRuntime(tmp_path, sandbox="none")

        async def handle(reader, writer):
            request = await reader.readuntil(b"\r\n\r\n")
            status = b"200 OK" if b"GET /ok " in request else b"503 Unavailable"
            if request.startswith(b"ping"):
                writer.write(b"pong")
            else:
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        cid = await started(rt, pod(), {"name": "c", "command": ["sleep", "30"],
                                        "ports": [{"name": "web", "containerPort": port}]})
        reader, writer = await rt.port_forward(pod(), port)
        writer.write(b"ping\r\n\r\n")
        assert await reader.read() == b"pong"
        writer.close()

        async def probe(p):
            return await rt.probe(cid, "readiness", p, "10.244.0.9")
        assert (await probe({"httpGet": {"path": "/ok", "port": "web"}})).success
        bad = await probe({"httpGet": {"path": "/no", "port": port}})
        assert not bad.success and bad.output == "HTTP probe failed with statuscode: 503"
        assert (await probe({"tcpSocket": {"port": port}})).success
        server.close()
        await server.wait_closed()
        refused = await probe({"tcpSocket": {"port": port}})
        assert refused.output == f"dial tcp 127.0.0.1:{port}: connect: connection refused"
        ok = await probe({"exec": {"command": ["sh", "-c", "echo fine"]}})
        assert ok.success and ok.output == "fine\n"
        failed = await probe({"exec": {"command": ["sh", "-c", "echo sick; exit 1"]}})
        assert not failed.success and failed.output == "sick\n"
        slow = await probe({"exec": {"command": ["sleep", "5"]}, "timeoutSeconds": 1})
        assert not slow.success and "timed out" in slow.output
        with pytest.raises(ValueError):
            await probe({"grpc": {"port": port}})
        await rt.remove_pod("u1")
    run(go())


def test_environment_downward_api_and_volumes_without_the_api(tmp_path):
    async def go():
        rt = ProcessRuntime(tmp_path, sandbox="none", allocatable={"cpu": "4"})
        p = pod(volumes=[
            {"name": "scratch", "emptyDir": {}},
            {"name": "info", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "sub/name", "fieldRef": {"fieldPath": "metadata.name"}}]}}])
        cid = await started(rt, p, {
            "name": "c", "workingDir": "/work/dir",
            "command": ["sh", "-c", "echo $(A) $B $NODE_CPU $IP; cat /etc/info/labels; echo; "
                        "cat /etc/info/sub/name; echo; echo x > /scratch/f; cat $SCRATCH/f; pwd; "
                        "echo $KEEP"],
            "env": [{"name": "A", "value": "a"}, {"name": "B", "value": "$(A)-b"},
                    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "NODE_CPU", "valueFrom": {"resourceFieldRef": {
                        "resource": "limits.cpu"}}},
                    {"name": "SCRATCH", "value": "/scratch"},
                    {"name": "KEEP", "value": "/scratchpad"}],
            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"},
                             {"name": "info", "mountPath": "/etc/info"}]})
        assert await rt.wait_container(cid) == 0
        out = b"".join([x.data async for x in rt.logs(cid, follow=False)]).decode()
        home = tmp_path / "pods/u1/containers/c"
        assert out.splitlines() == ["a a-b 4 10.244.0.9", 'app="x"', "p", "x",
                                    str(home / "root/work/dir"), "/scratchpad"]
        env = rt.containers[cid].env
        assert env["HOME"] == str(home) and env["HOSTNAME"] == "p"
        assert "DATABASE_URL" not in env and env["PATH"].startswith("/usr/local/sbin")
        assert (tmp_path / "pods/u1/volumes/scratch/f").read_text() == "x\n"
        assert oct(os.stat(tmp_path / "pods/u1/volumes/info/labels").st_mode & 0o777) == "0o644"
        virtual = await started(rt, {**p, "metadata": {**p["metadata"], "annotations": {
            "sim.kubelet/exit-after-seconds": "0.1", "sim.kubelet/exit-code": "2"}}},
            {"name": "v", "image": "nginx"})
        assert await rt.wait_container(virtual) == 2          # as the simulated runtime
        await rt.remove_pod("u1")
    run(go())


def test_usage_is_measured_from_the_process_group(tmp_path):
    async def go():
        rt = ProcessRuntime(tmp_path, sandbox="auto")
        cid = await started(rt, pod(), {"name": "c", "command": [
            "sh", "-c", "while true; do :; done"]})
        await asyncio.sleep(1.0)
        cpu, rss = rt.container_usage(cid)
        assert cpu > 0.1 and rss > 100 * 1024
        await rt.stop_container(cid, 0)
        assert rt.container_usage(cid) is None
    run(go())


def test_path_rewrite_and_command_line():
    mounts = [("/etc/cfg", "/d/cfg"), ("/etc/cfg/deep", "/d/deep"), ("/data", "/d/data")]
    assert volumes.rewrite("cat /etc/cfg/a /etc/cfg/deep/b '/data'", mounts) == \
        "cat /d/cfg/a /d/deep/b '/d/data'"
    assert volumes.rewrite("/etc/cfgx /x/etc/cfg /database --dir=/data", mounts) == \
        "/etc/cfgx /x/etc/cfg /database --dir=/d/data"
    assert expand("$(A)/$(MISSING)/$$(A)/$", {"A": "1"}) == "1/$(MISSING)/$(A)/$"
    assert command_line({"args": ["sh", "-c", "$(A)"]}, {"A": "x"}) == ["sh", "-c", "x"]
    assert command_line({"command": ["a"], "args": ["b"]}, {}) == ["a", "b"]
    assert command_line({"image": "nginx"}, {}) is None


def test_run_as_user():
    # pytest's tmp_path sits in a directory only root may enter: the other user needs to
    # reach its working directory and volumes
    root = tempfile.mkdtemp(prefix="process-runtime-user-")
    os.chmod(root, 0o755)

    async def go():
        rt = ProcessRuntime(root, sandbox="auto")
        p = pod(securityContext={"runAsUser": 65534, "runAsGroup": 65534},
                volumes=[{"name": "info", "downwardAPI": {"items": [
                    {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}}])
        c = {"name": "c", "command": ["sh", "-c", "id -u; id -g; cat /etc/info/name; echo; "
                                      "touch $HOME/mine && echo wrote"],
             "volumeMounts": [{"name": "info", "mountPath": "/etc/info"}]}
        from workers.kubelet.runtime import CreateContainerConfigError
        if os.geteuid() == 0:      # runAsNonRoot: the kubelet's own user (root) is refused
            with pytest.raises(CreateContainerConfigError,
                               match="runAsNonRoot and image will run as root"):
                await rt.create_container(
                    pod(securityContext={"runAsNonRoot": True}), {"name": "c"}, 0)
        with pytest.raises(CreateContainerConfigError, match="breaks non-root policy"):
            await rt.create_container(
                pod(securityContext={"runAsNonRoot": True, "runAsUser": 0}), {"name": "c"}, 0)
        if os.geteuid() != 0:       # a kubelet that is not root cannot switch users
            with pytest.raises(CreateContainerConfigError):
                await rt.create_container(p, c, 0)
            return
        cid = await started(rt, p, c)
        assert await rt.wait_container(cid) == 0
        out = b"".join([x.data async for x in rt.logs(cid, follow=False)]).decode()
        assert out.splitlines() == ["65534", "65534", "p", "wrote"]
        s = await rt.exec(await started(rt, p, {**c, "name": "d", "command": ["sleep", "9"]}),
                          ["id", "-u"], stdin=False, tty=False)
        assert await drain(s.read_stdout) == b"65534\n"
        await rt.remove_pod("u1")
    try:
        run(go())
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_kubelets_stats_report_measured_usage(tmp_path):
    """usage.Stats reads a runtime's container_usage instead of the model: a busy loop
    shows about one core between two samples, and its real RSS."""
    from types import SimpleNamespace

    from workers.kubelet import status as st
    from workers.kubelet.pods import PodWorker
    from workers.kubelet.usage import Stats

    async def go():
        rt = ProcessRuntime(tmp_path, sandbox="auto")
        p = pod()
        p["spec"]["containers"] = [{"name": "c", "image": "busybox"}]
        cid = await started(rt, p, {"name": "c", "command": ["sh", "-c",
                                                            "while true; do :; done"]})
        worker = PodWorker(SimpleNamespace(runtime=rt), p)
        worker.start_time = "2026-01-01T00:00:00Z"
        rec = worker.containers[0]
        rec.state, rec.container_id, rec.started_at = st.RUNNING, cid, "2026-01-01T00:00:00Z"
        stats = Stats()
        stats.sample([worker])
        await asyncio.sleep(1.0)
        (usage,) = stats.sample([worker]).pods[0].containers
        cpu, rss = rt.container_usage(cid)
        assert 0.1 < usage.cpu_rate < 1.5 and usage.cpu_seconds > 0.1
        assert usage.memory > 100 * 1024 and abs(usage.memory - rss) < 10 * 2 ** 20
        await rt.remove_pod("u1")
    run(go())
