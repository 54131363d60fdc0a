"""The Python source of pipeline.yaml beside it, for the KFP SDK (2.x).

pipeline.yaml is committed, compiled form (what kf-run submits, and what
its demo and tests run without Python); this file is the source it is
compiled from. Compile it with

    kfp dsl compile --py train/pipeline.py --output build/train.yaml

or let kf-run do it in the CI job, with `compile:` in kf-run.yaml.
"""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

IMAGE = "busybox:1.36"


@dsl.container_component
def ingest(dataset: str, rows: Output[Dataset]):
    return dsl.ContainerSpec(
        image=IMAGE,
        command=["sh", "-c"],
        args=[
            'mkdir -p "$(dirname "$1")" && echo "ingesting $0" && seq 1 100 > "$1"',
            dataset,
            rows.path,
        ],
    )


@dsl.container_component
def train(rows: Input[Dataset], epochs: int, learning_rate: float, model: Output[Model]):
    return dsl.ContainerSpec(
        image=IMAGE,
        command=["sh", "-c"],
        args=[
            'mkdir -p "$(dirname "$3")" && echo "training $1 epochs at $2 on $(wc -l < "$0") rows" | tee "$3"',
            rows.path,
            epochs,
            learning_rate,
            model.path,
        ],
    )


@dsl.container_component
def evaluate(model: Input[Model], metrics: Output[Metrics]):
    return dsl.ContainerSpec(
        image=IMAGE,
        command=["sh", "-c"],
        args=[
            'mkdir -p "$(dirname "$1")" && echo accuracy=0.93 | tee "$1"',
            model.path,
            metrics.path,
        ],
    )


@dsl.pipeline(name="train-demo", description="Ingest a dataset, train a model, evaluate it.")
def train_demo(dataset: str, epochs: int = 3, learning_rate: float = 0.01):
    rows = ingest(dataset=dataset)
    model = train(rows=rows.outputs["rows"], epochs=epochs, learning_rate=learning_rate)
    evaluate(model=model.outputs["model"])


if __name__ == "__main__":
    # `python train/pipeline.py OUTPUT` compiles too, like kfp dsl compile.
    import sys

    from kfp import compiler

    compiler.Compiler().compile(train_demo, sys.argv[1])
