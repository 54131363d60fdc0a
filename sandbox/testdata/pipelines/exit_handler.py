"""An exit handler: cleanup runs after the group, whether train fails or not.

Inside the group, train and announce are independent, so announce still
finishes when train fails.
"""
from kfp import dsl


@dsl.container_component
def cleanup(message: str):
    return dsl.ContainerSpec(image="alpine:3.20", command=["echo"], args=[message])


@dsl.container_component
def announce(message: str):
    return dsl.ContainerSpec(image="alpine:3.20", command=["echo"], args=[message])


@dsl.container_component
def train(epochs: int):
    return dsl.ContainerSpec(
        image="alpine:3.20",
        command=["sh", "-c", 'echo "training for $0 epochs"; exit 1'],
        args=[epochs],
    )


@dsl.pipeline(name="exit-handler", description="A failing step inside an exit handler.")
def exit_handler(message: str = "starting"):
    with dsl.ExitHandler(exit_task=cleanup(message="cleaning up")):
        announce(message=message)
        train(epochs=3)
