"""One module per benchmark, each with a `run(ctx, sec)`; registry.py lists them."""
