"""Deployment arithmetic: fenceposts, the new ReplicaSet's size, template hashes."""
from __future__ import annotations

from workers.controllers import deployment_util as du


def deployment(replicas, surge=None, unavailable=None, strategy="RollingUpdate"):
    rolling = {k: v for k, v in (("maxSurge", surge), ("maxUnavailable", unavailable))
               if v is not None}
    return {"spec": {"replicas": replicas,
                     "strategy": {"type": strategy, "rollingUpdate": rolling}}}


def test_fenceposts_round_surge_up_and_unavailable_down():
    assert du.surge_and_unavailable(deployment(10)) == (3, 2)      # 25 % of 10
    assert du.surge_and_unavailable(deployment(3, "50%", "50%")) == (2, 1)
    assert du.surge_and_unavailable(deployment(3, 0, 0)) == (0, 1)  # never both zero
    assert du.surge_and_unavailable(deployment(4, 2, "0%")) == (2, 0)


def test_the_new_replica_set_grows_within_max_surge():
    d = deployment(3, 1, 0)
    old = {"spec": {"replicas": 3}}
    new = {"spec": {"replicas": 0}}
    assert du.new_rs_replicas(d, [old, new], new) == 1
    new["spec"]["replicas"] = 1
    assert du.new_rs_replicas(d, [old, new], new) == 1          # total already at 3 + 1
    old["spec"]["replicas"] = 1
    assert du.new_rs_replicas(d, [old, new], new) == 3
    assert du.new_rs_replicas(deployment(3, strategy="Recreate"), [old, new], new) == 3


def test_template_hash_is_stable_name_safe_and_ignores_its_own_label():
    t = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": "nginx"}]}}
    h = du.template_hash(t)
    assert h == du.template_hash({"spec": t["spec"], "metadata": t["metadata"]})
    assert set(h) <= set(du.ALPHANUMS) and h != du.template_hash(t, 1)
    labelled = {"metadata": {"labels": {"app": "web", du.HASH_LABEL: h}}, "spec": t["spec"]}
    assert du.equal_ignore_hash(labelled, t)
    assert not du.equal_ignore_hash(labelled, {"metadata": t["metadata"],
                                               "spec": {"containers": [{"image": "nginx:2"}]}})
