"""Entry point of `pulumi up`: the whole stack, generated from the pipeline registry."""

from infra.program import main

main()
