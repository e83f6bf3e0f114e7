"""`python -m trinity_hybrid`: the same command line as `trinity-hybrid` (see _cli.py).

`python -m trinity_hybrid demo` runs the 24-prompt demo; `python -m trinity_hybrid route "<prompt>"`
explains how one prompt would be routed.
"""

from ._cli import main

if __name__ == "__main__":
    main(prog_name="trinity-hybrid")
