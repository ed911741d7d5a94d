"""cloud-check: the `sam build` output run as Lambda would run it (see __main__.py)."""
