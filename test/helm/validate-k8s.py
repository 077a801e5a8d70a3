#!/usr/bin/python3
"""Checks Kubernetes manifests against the Kubernetes API types.

No Kubernetes OpenAPI document or JSON schema is packaged by Debian (bookworm), and nothing can
be downloaded, so the schema used here is the one generated into the official Kubernetes Python
client, which Debian packages (python3-kubernetes 22.6: the Kubernetes 1.22 API). Each API type
there is a class generated from the Kubernetes OpenAPI spec, with `openapi_types` (field ->
type) and `attribute_map` (field -> JSON name), and constructors that refuse a missing required
field. For every manifest this script checks:
  - apiVersion and kind name a type of that API (unknown kinds are problems, not skipped);
  - every field, at any depth, is a field of its type (as kubectl --validate=strict or the API
    server's strict field validation would say: unknown fields are errors);
  - every value has its field's type (string, integer, boolean, list, map, object), labels and
    annotations are strings; quantities (resources, storage) may also be numbers, as Kubernetes
    accepts;
  - the generated constructors accept it (required fields present, enumerations respected).
What it cannot check is what only the API server knows (defaults, cross-field rules such as a
selector matching the template labels); the chart's tests check those they rely on.

Input: a JSON list of manifests on stdin. Output: a JSON list of problems (strings) on stdout.
"""
import json
import re
import sys

import kubernetes
from kubernetes import client as k8s
from kubernetes.client import ApiClient

KINDS = {
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "Service"): "V1Service",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("networking.k8s.io/v1", "Ingress"): "V1Ingress",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
}

QUANTITY_PARENTS = {"limits", "requests", "capacity", "hard"}


def check(value, type_name, path, problems, parent_key=""):
    if type_name == "object":
        return
    if type_name in ("str", "datetime", "date"):
        if isinstance(value, str):
            return
        if parent_key in QUANTITY_PARENTS and isinstance(value, (int, float)) and not isinstance(value, bool):
            return
        problems.append(f"{path}: expected a string, got {json.dumps(value)}")
        return
    if type_name == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: expected an integer, got {json.dumps(value)}")
        return
    if type_name == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{path}: expected a number, got {json.dumps(value)}")
        return
    if type_name == "bool":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected a boolean, got {json.dumps(value)}")
        return
    m = re.match(r"^list\[(.*)\]$", type_name)
    if m:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {json.dumps(value)}")
            return
        for i, item in enumerate(value):
            check(item, m.group(1), f"{path}[{i}]", problems)
        return
    m = re.match(r"^dict\(([^,]*), (.*)\)$", type_name)
    if m:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map, got {json.dumps(value)}")
            return
        key = path.rsplit(".", 1)[-1]
        for k, v in value.items():
            check(v, m.group(2), f"{path}.{k}", problems, parent_key=key)
        return
    cls = getattr(k8s, type_name, None)
    if cls is None:
        problems.append(f"{path}: no type {type_name} in the Kubernetes client {kubernetes.__version__}")
        return
    if not isinstance(value, dict):
        problems.append(f"{path}: expected a {type_name} object, got {json.dumps(value)}")
        return
    json_to_attr = {j: a for a, j in cls.attribute_map.items()}
    for key, v in value.items():
        attr = json_to_attr.get(key)
        if attr is None:
            problems.append(f"{path}.{key}: unknown field of {type_name}")
            continue
        if v is None:
            continue
        check(v, cls.openapi_types[attr], f"{path}.{key}", problems)


def validate(doc, api):
    where = f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"
    type_name = KINDS.get((doc.get("apiVersion"), doc.get("kind")))
    if type_name is None:
        return [f"{where}: no Kubernetes API type for apiVersion {doc.get('apiVersion')!r} kind {doc.get('kind')!r}"]
    problems = []
    check(doc, type_name, where, problems)
    if not problems:
        try:
            api._ApiClient__deserialize(doc, type_name)
        except (ValueError, TypeError) as err:
            problems.append(f"{where}: {err}")
    return problems


def main():
    docs = json.load(sys.stdin)
    api = ApiClient()
    problems = []
    for doc in docs:
        problems.extend(validate(doc, api))
    json.dump({"kubernetesClient": kubernetes.__version__, "problems": problems}, sys.stdout)


if __name__ == "__main__":
    main()
