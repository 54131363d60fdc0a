"""dsl.If/dsl.Else on a task output, joined by dsl.OneOf.

flip-coin writes heads or tails; condition-2 (heads) and condition-3 (tails)
each produce a message; print-text prints the one that ran.
"""
from kfp import dsl


@dsl.container_component
def flip_coin(side: dsl.OutputPath(str)):
    return dsl.ContainerSpec(
        image="alpine:3.20",
        command=["sh", "-c", 'mkdir -p "$(dirname "$0")"; if [ $((RANDOM % 2)) = 0 ]; then printf heads; else printf tails; fi > "$0"'],
        args=[side],
    )


@dsl.container_component
def say(text: str, said: dsl.OutputPath(str)):
    return dsl.ContainerSpec(
        image="alpine:3.20",
        command=["sh", "-c", 'mkdir -p "$(dirname "$1")"; printf "%s" "$0" | tee "$1"'],
        args=[text, said],
    )


@dsl.container_component
def print_text(text: str):
    return dsl.ContainerSpec(image="alpine:3.20", command=["echo"], args=[text])


@dsl.pipeline(name="if-else", description="Two branches on a coin flip, one result.")
def if_else():
    coin = flip_coin()
    with dsl.If(coin.output == "heads"):
        heads = say(text="Got heads!")
    with dsl.Else():
        tails = say(text="Got tails!")
    print_text(text=dsl.OneOf(heads.output, tails.output))
