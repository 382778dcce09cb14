"""Move Roles, ClusterRoles and bindings from the document table (``apiserver_object``) into
the relational tables, keeping each object's revision (its resourceVersion), and delete the
document rows.  The change log is left alone: it is history, and the same documents.

Each object is checked to come back byte for byte from its rows before its document row goes;
a document that would not (none should) stops the migration, so nothing is lost.  Reversible:
backwards rebuilds the documents from the rows.
"""
import orjson
from django.db import migrations

from rbac.storage_layout import CLUSTER_ROLE, CLUSTER_ROLE_BINDING, ROLE, ROLE_BINDING, Ident, \
    join, split

G = "rbac.authorization.k8s.io"
KINDS = (
    (f"roles.{G}", "Role", "PolicyRule", "role", ROLE),
    (f"clusterroles.{G}", "ClusterRole", "PolicyRule", "cluster_role", CLUSTER_ROLE),
    (f"rolebindings.{G}", "RoleBinding", "Subject", "role_binding", ROLE_BINDING),
    (f"clusterrolebindings.{G}", "ClusterRoleBinding", "Subject", "cluster_role_binding",
     CLUSTER_ROLE_BINDING),
)


def _column_values(instance, columns) -> dict:
    return {c: getattr(instance, c) for c in columns}


def documents_to_rows(apps, schema_editor):
    db = schema_editor.connection.alias
    StoredObject = apps.get_model("apiserver", "StoredObject")
    for resource, model_name, child_name, fk, shape in KINDS:
        model, child = apps.get_model("rbac", model_name), apps.get_model("rbac", child_name)
        documents = StoredObject.objects.using(db).filter(resource=resource)
        if not shape.namespaced:
            documents = documents.filter(namespace="")
        for row in documents.order_by("namespace", "name"):
            ident = Ident(row.namespace, row.name, row.rv)
            values, children = split(orjson.loads(row.doc), shape, ident)
            if orjson.dumps(join(values, children, shape, ident)).decode() != row.doc:
                raise RuntimeError(f"{resource} {row.namespace}/{row.name}: its rows would not "
                                   "give back the stored document")
            scope = {"namespace": row.namespace} if shape.namespaced else {}
            parent = model.objects.using(db).create(name=row.name, resource_version=row.rv,
                                                    **scope, **values)
            child.objects.using(db).bulk_create(
                child(**{fk: parent, "position": i, **c}) for i, c in enumerate(children))
            row.delete()


def rows_to_documents(apps, schema_editor):
    db = schema_editor.connection.alias
    StoredObject = apps.get_model("apiserver", "StoredObject")
    for resource, model_name, child_name, fk, shape in KINDS:
        model, child = apps.get_model("rbac", model_name), apps.get_model("rbac", child_name)
        columns = [f.column for f in shape.object_fields()] + ["metadata_rest", "rest", "layout"]
        child_columns = [f.column for f in shape.child_fields]
        for parent in model.objects.using(db).all():
            namespace = parent.namespace if shape.namespaced else ""
            ident = Ident(namespace, parent.name, parent.resource_version)
            kids = [_column_values(c, child_columns)
                    for c in child.objects.using(db).filter(**{fk: parent}).order_by("position")]
            doc = join(_column_values(parent, columns), kids, shape, ident)
            StoredObject.objects.using(db).create(
                resource=resource, namespace=namespace, name=parent.name,
                rv=parent.resource_version, doc=orjson.dumps(doc).decode())
            parent.delete()


class Migration(migrations.Migration):
    dependencies = [("rbac", "0001_relational_models"), ("apiserver", "0002_revision_row")]
    operations = [migrations.RunPython(documents_to_rows, rows_to_documents)]
