"""`python -m alerts.mmsc --port 8100 --vasp-url URL`: run the MMSC simulator."""

import typer

from alerts.dispatch.mm7_cli import mmsc_sim

if __name__ == "__main__":
    typer.run(mmsc_sim)
