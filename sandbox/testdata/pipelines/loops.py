"""ParallelFor: literal items with a parallelism limit, a loop nested in it,
and a loop over a list parameter."""
from typing import List

from kfp import dsl


@dsl.container_component
def print_text(msg: str):
    return dsl.ContainerSpec(image="alpine:3.20", command=["echo"], args=[msg])


@dsl.pipeline(name="loops", description="Three shards, two seeds each, and a loop over a parameter.")
def loops(regions: List[str] = ["eu", "us"]):
    shards = [{"shard": "a", "rows": "1"}, {"shard": "b", "rows": "10"}, {"shard": "c", "rows": "5"}]
    with dsl.ParallelFor(items=shards, parallelism=2) as shard:
        print_text(msg=shard.shard)
        with dsl.ParallelFor(items=["1", "2"], parallelism=1) as seed:
            print_text(msg=seed)
    with dsl.ParallelFor(items=regions) as region:
        print_text(msg=region)
