"""deploy/k8s without a cluster: each overlay builds with kustomize, every core resource validates against the
Kubernetes schemas (kubernetes-validate, strict), every Strimzi resource against Strimzi's CRD schemas,
and the resources refer to each other rightly (secrets, selectors, the bootstrap address, probes)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from services.grants import AUDITOR, OPERATOR, PRINCIPALS, SERVICES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"  # the oldest release still supported upstream when this was written
OVERLAYS = ("local", "production")


@pytest.fixture(scope="module")
def kustomize() -> str:
    """The kustomize binary, built and cached by deploy/k8s/tools.sh (with the npm validators)."""
    done = subprocess.run(
        ["bash", str(K8S / "tools.sh"), "fetch"], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"deploy/k8s/tools.sh fetch failed:\n{done.stderr[-3000:]}"
    return done.stdout.strip().split("=", 1)[1]


def built(kustomize: str, overlay: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [kustomize, "build", str(K8S / "overlays" / overlay)], capture_output=True, text=True
    )
    assert done.returncode == 0, f"kustomize build {overlay}: {done.stderr}"
    return [document for document in yaml.safe_load_all(done.stdout) if document]


def of_kind(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["kind"] == kind]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_core_resource_is_valid_for_kubernetes(kustomize: str, overlay: str) -> None:
    core = [r for r in built(kustomize, overlay) if not r["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {"StatefulSet", "Service", "PodDisruptionBudget", "ConfigMap"} <= {r["kind"] for r in core}
    for resource in core:
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{overlay}: {resource['kind']}/{resource['metadata']['name']}: {error.message}")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_strimzi_resource_is_valid_for_its_crd(kustomize: str, overlay: str) -> None:
    strimzi = [r for r in built(kustomize, overlay) if r["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {r["kind"] for r in strimzi} == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
    done = subprocess.run(
        ["node", "validate.mjs"],
        cwd=K8S / "validate",
        input=json.dumps(strimzi),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("valid: ") == len(strimzi)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_resources_refer_to_each_other_rightly(kustomize: str, overlay: str) -> None:
    resources = built(kustomize, overlay)
    [kafka] = of_kind(resources, "Kafka")
    [config] = [
        c for c in of_kind(resources, "ConfigMap") if c["metadata"]["name"].startswith("envol-config")
    ]
    [listener] = kafka["spec"]["kafka"]["listeners"]
    assert listener["tls"] and listener["authentication"]["type"] == "scram-sha-512"
    assert (
        config["data"]["KAFKA_BOOTSTRAP_SERVERS"]
        == f"{kafka['metadata']['name']}-kafka-bootstrap:{listener['port']}"
    )
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    users = {u["metadata"]["name"] for u in of_kind(resources, "KafkaUser")}
    assert users == set(PRINCIPALS)
    secrets = {s["metadata"]["name"] for s in of_kind(resources, "Secret")}
    sets = {s["metadata"]["name"]: s for s in of_kind(resources, "StatefulSet")}
    pdbs = {p["metadata"]["name"]: p for p in of_kind(resources, "PodDisruptionBudget")}
    services = {s["metadata"]["name"]: s for s in of_kind(resources, "Service")}
    for name in SERVICES:
        workload = sets[f"envol-{name}"]
        pod = workload["spec"]["template"]
        [container] = pod["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["ENVOL_INSTANCE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        assert env["KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] in users  # the User Operator's
        assert env["KAFKA_USERNAME"]["value"] == name
        for variable in ("MONGODB_PASSWORD", *(("ENVOL_PSEUDONYM_KEY",) if name == "placement" else ())):
            secret = env[variable]["valueFrom"]["secretKeyRef"]["name"]
            assert secret in secrets or overlay == "production", f"{name}: no secret {secret}"
        assert ("ENVOL_PSEUDONYM_KEY" in env) == (name == "placement")
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        [ca] = pod["spec"]["volumes"]
        assert ca["secret"]["secretName"] == f"{kafka['metadata']['name']}-cluster-ca-cert"
        labels = pod["metadata"]["labels"]
        for selector in (
            services[f"envol-{name}"]["spec"]["selector"],
            pdbs[f"envol-{name}"]["spec"]["selector"]["matchLabels"],
        ):
            assert selector.items() <= labels.items()
    [console] = of_kind(resources, "Deployment")  # the operators' console, as the operator and the auditor
    pod = console["spec"]["template"]
    [container] = pod["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert (env["KAFKA_USERNAME"]["value"], env["MONGODB_USERNAME"]["value"]) == (OPERATOR, AUDITOR)
    assert env["KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == OPERATOR in users
    assert "ENVOL_PSEUDONYM_KEY" not in env and "ENVOL_INSTANCE" not in env
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    [mounted] = [m for m in container["volumeMounts"] if m["name"] == "operators"]
    assert env["ENVOL_CONSOLE_PASSWORDS"]["value"] == f"{mounted['mountPath']}/console-passwords"
    operators = volumes["operators"]["secret"]["secretName"]
    assert operators in secrets or overlay == "production"
    assert services["envol-console"]["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert "clusterIP" not in services["envol-console"]["spec"] and console["spec"]["replicas"] == 1
    topics = of_kind(resources, "KafkaTopic")
    replicas = {t["spec"]["replicas"] for t in topics}
    assert replicas == ({1} if overlay == "local" else {3})
    for topic in topics:
        assert int(topic["spec"]["config"]["min.insync.replicas"]) == max(1, topic["spec"]["replicas"] - 1)
