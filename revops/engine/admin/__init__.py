"""Admin of the engine: the automation registry (``automations``), its runs (``runs``), the run
explanations shared with the Why page and the item page (``explain``) and the panels the engine adds
to them (``panels``), and reverting runs (``reverts``). ``revops.engine.setup`` imports this package, which registers the model admins.
"""

from . import automations, backlog, reverts, runs  # noqa: F401  (register the model admins)
