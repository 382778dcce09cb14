"""Store-level behaviour of apps kinds."""
import orjson
def test_deployment_generation_moves_on_annotation_changes_too(stores, ctx):
    """Upstream bumps a Deployment's generation for spec *or* annotation changes; labels
    alone do not."""
    store = stores.store("apps", "v1", "deployments")
    store.create("default", {"metadata": {"name": "gen-ann"}, "spec": {
        "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}},
                     "spec": {"containers": [{"name": "c", "image": "i"}]}}}}, ctx)

    def set_meta(key, value):
        def transform(obj):
            obj["metadata"].setdefault(key, {})["k"] = value
            return obj
        doc, _ = store.guaranteed_update("default", "gen-ann", transform, ctx)
        return orjson.loads(doc)["metadata"]["generation"]
    assert set_meta("labels", "x") == 1
    assert set_meta("annotations", "y") == 2


def test_a_status_write_carries_annotations_without_moving_generation(stores, ctx):
    """The deployment controller writes the revision annotation with its status (upstream's
    syncRevision uses UpdateStatus): the annotation is kept, generation stays."""
    import dataclasses
    store = stores.store("apps", "v1", "deployments")
    store.create("default", {"metadata": {"name": "gen-status"}, "spec": {
        "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}},
                     "spec": {"containers": [{"name": "c", "image": "i"}]}}}}, ctx)

    def transform(obj):
        obj["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "1"
        obj["status"] = {"observedGeneration": 1, "replicas": 0}
        return obj
    doc, _ = store.guaranteed_update("default", "gen-status", transform,
                                     dataclasses.replace(ctx, subresource="status"))
    meta = orjson.loads(doc)["metadata"]
    assert meta["annotations"] == {"deployment.kubernetes.io/revision": "1"}
    assert meta["generation"] == 1
