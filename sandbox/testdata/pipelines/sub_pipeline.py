"""A pipeline used as a component of another, with an output carried out of
it, and a Python function component (the shape most users compile)."""
from kfp import dsl


@dsl.component(base_image="python:3.11")
def normalize(text: str) -> str:
    return " ".join(text.split()).lower()


@dsl.container_component
def print_text(msg: str):
    return dsl.ContainerSpec(image="alpine:3.20", command=["echo"], args=[msg])


@dsl.pipeline(name="prepare")
def prepare(text: str) -> str:
    cleaned = normalize(text=text)
    print_text(msg=cleaned.output)
    return cleaned.output


@dsl.pipeline(name="sub-pipeline", description="Runs the prepare pipeline, then uses its output.")
def sub_pipeline(text: str = "  Hello   KF-RUN  "):
    prepared = prepare(text=text)
    print_text(msg=prepared.output)
