"""Kubernetes settings from kfp-kubernetes: a secret as environment
variables, a node selector and a mounted PVC, on a train step."""
from kfp import dsl
from kfp import kubernetes


@dsl.container_component
def train(data: str):
    return dsl.ContainerSpec(
        image="alpine:3.20",
        command=["sh", "-c", 'test -n "$API_TOKEN" && ls "$0"'],
        args=[data],
    )


@dsl.pipeline(name="kubernetes-settings", description="A step with a secret, a node selector and a volume.")
def kubernetes_settings(data: str = "/data"):
    task = train(data=data)
    kubernetes.use_secret_as_env(task, secret_name="api", secret_key_to_env={"token": "API_TOKEN"})
    kubernetes.add_node_selector(task, label_key="cloud.google.com/gke-accelerator", label_value="nvidia-tesla-t4")
    kubernetes.mount_pvc(task, pvc_name="training-data", mount_path="/data")
