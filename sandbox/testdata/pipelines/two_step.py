"""Two container steps joined by an artifact: the sandbox tests' workhorse.

write-text writes the `text` parameter into an artifact; read-text prints it.
"""
from kfp import dsl
from kfp.dsl import Artifact, Input, Output


@dsl.container_component
def write_text(text: str, out: Output[Artifact]):
    return dsl.ContainerSpec(
        image="alpine:3.20",
        command=["sh", "-c", 'mkdir -p "$(dirname "$1")" && printf "%s\\n" "$0" > "$1"'],
        args=[text, out.path],
    )


@dsl.container_component
def read_text(src: Input[Artifact]):
    return dsl.ContainerSpec(image="alpine:3.20", command=["cat"], args=[src.path])


@dsl.pipeline(name="two-step", description="Writes a text to an artifact, then reads it back.")
def two_step(text: str = "Hello from kf-run!"):
    written = write_text(text=text)
    read_text(src=written.outputs["out"])
