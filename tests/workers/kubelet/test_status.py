"""Pod status computations (workers/kubelet/status.py) against upstream's rules."""
from __future__ import annotations

import pytest

from workers.kubelet import status as st
from workers.kubelet.status import ContainerRecord as Rec


def running(name="c", ready=True, **kw):
    return Rec(name, "nginx", state=st.RUNNING, reason="", started=True, ready=ready,
               started_at="2026-01-01T00:00:00Z", **kw)


def terminated(name="c", code=0, init=False):
    return Rec(name, "nginx", init=init, state=st.TERMINATED, reason="", exit_code=code,
               started_at="t0", finished_at="t1", container_id="abc")


def crashlooping(name="c", code=1):
    return Rec(name, "nginx", state=st.WAITING, reason="CrashLoopBackOff",
               last_state={"exitCode": code, "reason": "Error"}, restart_count=2)


@pytest.mark.parametrize("policy, init, containers, terminal, phase", [
    ("Always", [], [Rec("c", "i")], False, "Pending"),
    ("Always", [running("i")], [Rec("c", "i", reason="PodInitializing")], False, "Pending"),
    ("Never", [terminated("i", 1, init=True)], [Rec("c", "i")], False, "Failed"),
    ("Always", [terminated("i", init=True)], [running()], False, "Running"),
    ("Always", [], [running("a"), terminated("b")], False, "Running"),
    ("Always", [], [crashlooping()], False, "Running"),          # restarting counts as stopped
    ("Always", [], [terminated(code=0)], False, "Running"),
    ("Never", [], [terminated(code=0)], False, "Succeeded"),
    ("OnFailure", [], [terminated(code=0)], False, "Succeeded"),
    ("Never", [], [terminated("a", 0), terminated("b", 2)], False, "Failed"),
    ("OnFailure", [], [crashlooping()], False, "Running"),
    ("Always", [], [terminated(code=0)], True, "Succeeded"),     # deleted: terminal phase
    ("Always", [], [terminated(code=137)], True, "Failed"),
])
def test_phase_follows_upstream_get_phase(policy, init, containers, terminal, phase):
    assert st.pod_phase(policy, init, containers, terminal) == phase


def by_type(conditions):
    return {c["type"]: c for c in conditions}


def test_conditions_of_a_starting_pod_with_init_containers():
    c = by_type(st.pod_conditions("Pending", True, [running("init")],
                                  [Rec("web", "nginx", reason="PodInitializing")]))
    assert list(c) == ["PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"]
    assert c["PodReadyToStartContainers"]["status"] == "True"
    assert c["Initialized"] == {"type": "Initialized", "status": "False",
                                "reason": "ContainersNotInitialized",
                                "message": "containers with incomplete status: [init]"}
    assert c["Ready"]["reason"] == "ContainersNotReady"
    assert c["Ready"]["message"] == "containers with unready status: [web]"
    assert c["ContainersReady"]["message"] == "containers with unready status: [web]"


def test_conditions_of_a_ready_pod_have_no_reason():
    c = by_type(st.pod_conditions("Running", True, [terminated("i", init=True)], [running()]))
    for kind in ("Initialized", "ContainersReady", "Ready"):
        assert c[kind] == {"type": kind, "status": "True", "reason": None, "message": None}


def test_unready_container_is_listed_until_its_probe_passes():
    c = by_type(st.pod_conditions("Running", True, [], [running("a"), running("b", False)]))
    assert c["Ready"]["status"] == "False"
    assert c["Ready"]["message"] == "containers with unready status: [b]"


@pytest.mark.parametrize("phase, reason", [("Succeeded", "PodCompleted"), ("Failed", "PodFailed")])
def test_terminal_pod_conditions(phase, reason):
    c = by_type(st.pod_conditions(phase, False, [], [terminated()]))
    assert c["PodReadyToStartContainers"]["status"] == "False"
    assert c["Ready"] == {"type": "Ready", "status": "False", "reason": reason, "message": None}
    assert c["ContainersReady"]["reason"] == reason


def test_transition_times_change_only_with_the_status():
    first = st.with_transition_times([{"type": "Ready", "status": "False"}], None, "t1")
    assert first == [{"type": "Ready", "status": "False", "lastProbeTime": None,
                      "lastTransitionTime": "t1"}]
    same = st.with_transition_times([{"type": "Ready", "status": "False"}], first, "t2")
    assert same[0]["lastTransitionTime"] == "t1"
    flipped = st.with_transition_times([{"type": "Ready", "status": "True"}], same, "t3")
    assert flipped[0]["lastTransitionTime"] == "t3"


def test_container_status_shapes():
    r = running(container_id="abc", image_id="docker.io/library/nginx@sha256:1", restart_count=1,
                last_state={"exitCode": 1})
    s = st.container_status(r, "simulated", "docker.io/library/nginx:latest")
    assert s == {"name": "c", "image": "docker.io/library/nginx:latest",
                 "imageID": "docker.io/library/nginx@sha256:1", "ready": True,
                 "restartCount": 1, "started": True,
                 "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                 "lastState": {"terminated": {"exitCode": 1}},
                 "containerID": "simulated://abc"}
    t = st.container_status(terminated(code=2), "simulated", "x")
    assert t["state"]["terminated"] == {"exitCode": 2, "reason": "Error", "startedAt": "t0",
                                        "finishedAt": "t1", "containerID": "simulated://abc"}
    assert t["ready"] is False and t["started"] is False
    w = st.container_status(Rec("c", "nginx"), "simulated", "x")
    assert w["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert "containerID" not in w and w["lastState"] == {}


@pytest.mark.parametrize("policy, code, restart", [
    ("Always", 0, True), ("Always", 1, True), ("OnFailure", 0, False), ("OnFailure", 3, True),
    ("Never", 0, False), ("Never", 1, False)])
def test_restart_policy(policy, code, restart):
    assert st.should_restart(policy, code) is restart


def test_backoff_doubles_from_10s_to_a_5_minute_cap_after_an_immediate_first_restart():
    assert [st.backoff_delay(n) for n in range(1, 10)] == [
        0, 10, 20, 40, 80, 160, 300, 300, 300]


def test_event_messages_as_upstream():
    pod = {"metadata": {"name": "web", "namespace": "default", "uid": "u-1"}}
    assert st.format_pod(pod) == "web_default(u-1)"
    assert st.crash_loop_message(20, "c", pod) == \
        "back-off 20s restarting failed container=c pod=web_default(u-1)"
    assert st.pulled_message("nginx", 0.2014, 1234) == (
        'Successfully pulled image "nginx" in 201ms (201ms including waiting). '
        "Image size: 1234 bytes.")
    assert st.pulled_message("nginx", 1.5, 1).startswith('Successfully pulled image "nginx" in 1.5s')
