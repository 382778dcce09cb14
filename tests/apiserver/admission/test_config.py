"""--admission-control-config-file (apiserver/admission/config.py): the AdmissionConfiguration
hands each plugin its document, inline or by a path relative to the file; the legacy
unversioned file reaches PodNodeSelector; bad files stop the start naming the reason; and
the flag, parsed as kube-apiserver's, reaches a plugin of a real server."""
from __future__ import annotations

import argparse
import json

import pytest

from apiserver import options as opts
from apiserver.admission.base import ORDER, Chain
from apiserver.admission.config import AdmissionConfigError, read
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

HEAD = "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\n"
ERL = {"apiVersion": "eventratelimit.admission.k8s.io/v1alpha1", "kind": "Configuration",
       "limits": [{"type": "Server", "qps": 1, "burst": 1}]}


def write(tmp_path, text, name="admission.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_no_file_means_no_configuration():
    assert read("") == {}


def test_inline_and_relative_path(tmp_path):
    (tmp_path / "conf").mkdir()
    write(tmp_path / "conf", "podNodeSelectorPluginConfig:\n  clusterDefaultNodeSelector: a=b\n",
          "pns.yaml")
    path = write(tmp_path, HEAD + "plugins:\n"
                 "- name: EventRateLimit\n  configuration: " + json.dumps(ERL) + "\n"
                 "- name: PodNodeSelector\n  path: conf/pns.yaml\n"
                 "- name: PodSecurity\n")
    assert read(path, known=ORDER) == {
        "EventRateLimit": ERL,
        "PodNodeSelector": {"podNodeSelectorPluginConfig": {"clusterDefaultNodeSelector": "a=b"}},
    }


def test_inline_wins_over_path_and_absolute_paths(tmp_path):
    other = write(tmp_path, '{"x": 1}', "other.json")
    path = write(tmp_path, HEAD + "plugins:\n"
                 f"- name: PodNodeSelector\n  path: {other}\n"
                 "  configuration: {inline: true}\n"
                 f"- name: EventRateLimit\n  path: {other}\n")
    assert read(path) == {"PodNodeSelector": {"inline": True}, "EventRateLimit": {"x": 1}}


@pytest.mark.parametrize("api_version", ["apiserver.config.k8s.io/v1",
                                         "apiserver.config.k8s.io/v1alpha1",
                                         "apiserver.k8s.io/v1alpha1"])
def test_accepted_versions_and_json(tmp_path, api_version):
    path = write(tmp_path, json.dumps({"apiVersion": api_version, "kind": "AdmissionConfiguration",
                                       "plugins": [{"name": "AlwaysAdmit",
                                                    "configuration": {"a": 1}}]}))
    assert read(path) == {"AlwaysAdmit": {"a": 1}}


def test_legacy_unversioned_file(tmp_path):
    doc = "podNodeSelectorPluginConfig:\n  clusterDefaultNodeSelector: env=dev\n"
    path = write(tmp_path, doc)
    expected = {"podNodeSelectorPluginConfig": {"clusterDefaultNodeSelector": "env=dev"}}
    assert read(path, known=ORDER) == {"ImagePolicyWebhook": expected, "PodNodeSelector": expected}
    # anything else that is no AdmissionConfiguration is refused
    with pytest.raises(AdmissionConfigError, match='unsupported kind "None"'):
        read(write(tmp_path, "something: else\n"))


@pytest.mark.parametrize("text, message", [
    ("- a\n- b\n", "not an AdmissionConfiguration object"),
    ("apiVersion: v1\nkind: ConfigMap\n", 'unsupported kind "ConfigMap" in version "v1"'),
    (HEAD + "plugins:\n- path: x.yaml\n", "plugins[0].name is required"),
    (HEAD + "plugins:\n- name: NoSuchPlugin\n  configuration: {}\n",
     'plugins[0]: admission plugin "NoSuchPlugin" is unknown'),
    (HEAD + "plugins:\n- name: AlwaysAdmit\n  configuration: {}\n- name: AlwaysAdmit\n"
     "  configuration: {}\n", 'plugins[1]: "AlwaysAdmit" is configured twice'),
    (HEAD + "plugins:\n- name: AlwaysAdmit\n  configuration: [1, 2]\n",
     "the configuration of AlwaysAdmit is not an object"),
    (HEAD + "plugins:\n- name: AlwaysAdmit\n  path: missing.yaml\n",
     "unable to read configuration of AlwaysAdmit from"),
    ("a: [unclosed\n", "unable to decode admission plugin configuration"),
])
def test_bad_files(tmp_path, text, message):
    with pytest.raises(AdmissionConfigError) as exc:
        read(write(tmp_path, text), known=ORDER)
    assert message in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(AdmissionConfigError, match="unable to read admission plugin "
                                                   "configuration from .*No such file"):
        read(str(tmp_path / "nope.yaml"))


def test_chain_hands_each_plugin_its_document(tmp_path):
    path = write(tmp_path, HEAD + "plugins:\n- name: EventRateLimit\n  configuration: "
                 + json.dumps(ERL) + "\n")
    chain = Chain(("EventRateLimit", "PodNodeSelector"), None, read(path, known=ORDER))
    # in upstream's order, not the order asked for
    assert chain.names == ("PodNodeSelector", "EventRateLimit")
    pns, erl = chain.plugins
    assert [e.type for e in erl.enforcers] == ["Server"]
    assert pns.cluster_selectors == {}
    # EventRateLimit without its document refuses the start
    with pytest.raises(ValueError, match="must not be empty"):
        Chain(("EventRateLimit",), None, {})


def test_flag_reaches_a_plugin_of_a_real_server(db, tmp_path):
    ensure_revision_row()
    path = write(tmp_path, HEAD + "plugins:\n- name: EventRateLimit\n  configuration: "
                 + json.dumps(ERL) + "\n")
    parser = argparse.ArgumentParser()
    opts.add_arguments(parser)
    options = opts.from_arguments(vars(parser.parse_args([
        f"--admission-control-config-file={path}",
        "--enable-admission-plugins=EventRateLimit"])))
    assert options.admission_control_config_file == path
    # admission_plugins=None: the server resolves the enable/disable flags itself
    completed, app = in_process_app(options=options, admission_plugins=None)
    assert "EventRateLimit" in completed.admission.names
    client = ASGIClient(app)
    # the default plugins run too: NamespaceLifecycle wants the namespace to exist
    assert client.post("/api/v1/namespaces", {"metadata": {"name": "default"}}).status_code == 201
    body = {"metadata": {"generateName": "e-"}, "involvedObject": {"kind": "Pod", "name": "p"}}
    assert client.post("/api/v1/namespaces/default/events", body).status_code == 201
    r = client.post("/api/v1/namespaces/default/events", body)
    assert (r.status_code, r.json()["message"]) == (
        429, "Too many requests: limit reached on type Server for key ")
