"""The production demo: 24 prompts in five languages through the configured providers, each answer
timed, judged for coherence and shown as it comes, then a summary and optionally JSON and a plot.

    trinity-hybrid demo [--json PATH] [--plot PATH] [--fail PROVIDER] [--max-tokens N]

_suite.py     the prompts (the long-context ones generated from a seed at run time)
_coherence.py the coherence checks
_runner.py    one prompt at a time through a node; skip-with-reason; --fail
_report.py    summary figures, the JSON document, the rich tables
_plot.py      the PNG (matplotlib, an optional extra)
_command.py   the click command, registered lazily in trinity_hybrid._cli
"""
